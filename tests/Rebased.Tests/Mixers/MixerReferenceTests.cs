using Rebased.Mixers;

namespace Rebased.Tests.Mixers;

/// <summary>Each mixer in float64 against an independent composition of its formula (feature maps, explicit loops).</summary>
public class MixerReferenceTests
{
    private const int D = 48, L = 40, B = 2;

    public MixerReferenceTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void BasedEqualsTheTaylorFeatureMap()
    {
        using var scope = NewDisposeScope();
        var mixer = new Based(D, featureDim: 16, numHeads: 12);
        mixer.to(ScalarType.Float64);
        var u = randn(B, L, D, dtype: ScalarType.Float64);
        var w = Weights(mixer);
        // φ(x) = [1, x / F^¼, vec(x⊗x) / (√2·√F)] so that φ(q)·φ(k) = 1 + s + s²/2 with s = q·k/√F
        Tensor Phi(Tensor x) => cat(new[]
        {
            ones_like(x.narrow(-1, 0, 1)),
            x / Math.Pow(16, 0.25),
            (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2) / (Math.Sqrt(2) * 4),
        }, -1);
        var expected = FeatureMapAttention(u, w, x => x, Phi, headDim: 4);
        AssertClose(expected, mixer.forward(u));
    }

    [Fact]
    public void ReBasedEqualsTheSquareFeatureMapAfterAJointLayerNorm()
    {
        using var scope = NewDisposeScope();
        var mixer = new ReBased(D, featureDim: 16, numHeads: 12);
        mixer.to(ScalarType.Float64);
        var w = Weights(mixer);
        using (no_grad())
            foreach (var key in new[] { "ln_q.weight", "ln_q.bias", "ln_k.weight", "ln_k.bias" })
                w[key].copy_(randn_like(w[key]));
        var u = randn(B, L, D, dtype: ScalarType.Float64);
        Tensor Norm(Tensor x, string which)
        {
            var mean = x.mean(new long[] { -1 }, keepdim: true);
            var variance = (x - mean).square().mean(new long[] { -1 }, keepdim: true);
            return (x - mean) / (variance + 1e-5).sqrt() * w[$"{which}.weight"] + w[$"{which}.bias"];
        }
        Tensor Phi(Tensor x) => (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2) / 4;
        var expected = FeatureMapAttention(u, w, x => x, Phi, headDim: 4, transformQ: x => Norm(x, "ln_q"), transformK: x => Norm(x, "ln_k"));
        AssertClose(expected, mixer.forward(u));
    }

    [Fact]
    public void MultiHeadAttentionEqualsCausalSoftmaxPerPosition()
    {
        using var scope = NewDisposeScope();
        var mixer = new MultiHeadAttention(D, numHeads: 2, dropout: 0.1);
        mixer.to(ScalarType.Float64);
        mixer.eval();
        var w = Weights(mixer);
        var u = randn(B, L, D, dtype: ScalarType.Float64);
        var qkv = u.matmul(w["Wqkv.weight"].t()) + w["Wqkv.bias"];
        var heads = new List<Tensor>();
        for (int h = 0; h < 2; h++)
        {
            var q = qkv.narrow(-1, h * 24, 24);
            var k = qkv.narrow(-1, D + h * 24, 24);
            var v = qkv.narrow(-1, 2 * D + h * 24, 24);
            var rows = new List<Tensor>();
            for (int t = 0; t < L; t++)
            {
                var scores = (k.narrow(1, 0, t + 1) * q.narrow(1, t, 1)).sum(-1) / Math.Sqrt(24);
                rows.Add((scores.softmax(-1).unsqueeze(-1) * v.narrow(1, 0, t + 1)).sum(1));
            }
            heads.Add(stack(rows, 1));
        }
        var expected = cat(heads, -1).matmul(w["out_proj.weight"].t()) + w["out_proj.bias"];
        AssertClose(expected, mixer.forward(u));
    }

    [Fact]
    public void BaseConvEqualsTheCausalThreeTapFilterTimesTheProjection()
    {
        using var scope = NewDisposeScope();
        var mixer = new BaseConv(D);
        mixer.to(ScalarType.Float64);
        var w = Weights(mixer);
        var u = randn(B, L, D, dtype: ScalarType.Float64);
        var kernel = w["conv.conv.weight"].squeeze(1); // [d, 3]
        var padded = nn.functional.pad(u, new long[] { 0, 0, 2, 0 }); // two zero steps before t = 0
        var conv = padded.narrow(1, 0, L) * kernel[.., 0] + padded.narrow(1, 1, L) * kernel[.., 1] + padded.narrow(1, 2, L) * kernel[.., 2] + w["conv.conv.bias"];
        var expected = conv * (u.matmul(w["projection.weight"].t()) + w["projection.bias"]) + u;
        AssertClose(expected, mixer.forward(u));
    }

    [Fact]
    public void ValueWidthIsTwelveTimesTheFloorOfDOverTwelve()
    {
        var mixer = new Based(64);
        var shapes = mixer.named_parameters().ToDictionary(np => np.name, np => np.parameter.shape);
        Assert.Equal(new long[] { 192, 64 }, shapes["proj_q.weight"]);
        Assert.Equal(new long[] { 60, 64 }, shapes["proj_v.weight"]);
        Assert.Equal(new long[] { 64, 60 }, shapes["proj_o.weight"]);
        using var u = randn(1, 8, 64);
        Assert.Equal(new long[] { 1, 8, 64 }, mixer.forward(u).shape);
    }

    /// <summary>Causal linear attention through explicit feature maps and prefix sums (independent of the kernel forms).</summary>
    private static Tensor FeatureMapAttention(Tensor u, Dictionary<string, Tensor> w, Func<Tensor, Tensor> identity, Func<Tensor, Tensor> phi,
        int headDim, Func<Tensor, Tensor>? transformQ = null, Func<Tensor, Tensor>? transformK = null)
    {
        var q = u.matmul(w["proj_q.weight"].t());
        var k = u.matmul(w["proj_k.weight"].t());
        if (transformQ is not null) q = transformQ(q);
        if (transformK is not null) k = transformK(k);
        var v = u.matmul(w["proj_v.weight"].t());
        long b = u.shape[0], l = u.shape[1];
        var fq = phi(q.view(b, l, 12, 16));           // [B, L, H, M]
        var fk = phi(k.view(b, l, 12, 16));
        var vh = identity(v.view(b, l, 12, headDim)); // [B, L, H, P]
        var kv = (fk.unsqueeze(-1) * vh.unsqueeze(-2)).cumsum(1); // Σ_{j≤t} φ(k_j) v_jᵀ
        var numerator = (fq.unsqueeze(-1) * kv).sum(-2);
        var denominator = (fq * fk.cumsum(1)).sum(-1, keepdim: true);
        var y = numerator / (denominator + 1e-12);
        return y.reshape(b, l, 12 * headDim).matmul(w["proj_o.weight"].t());
    }

    private static Dictionary<string, Tensor> Weights(nn.Module module) =>
        module.named_parameters().ToDictionary(np => np.name, np => np.parameter.detach());

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        double err = (expected - actual).abs().max().item<double>();
        Assert.True(err < 1e-10, $"max abs error {err}");
    }
}
