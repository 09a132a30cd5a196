using Rebased.Models;
using Rebased.Tests.Models;

namespace Rebased.Tests.Mixers;

public class MixerForwardBackwardTests
{
    public MixerForwardBackwardTests() => TorchRuntime.EnsureLoaded();

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var mixer in new[] { "attention", "conv_attention", "based", "rebased", "rwkv", "mamba", "gla", "deltanet" })
            foreach (var seqLen in new[] { 64, 256, 1024 })
                foreach (var dModel in new[] { 64, 128 })
                    data.Add(mixer, seqLen, dModel);
        return data;
    }

    /// <summary>
    /// A training-mode forward and backward gives finite logits and a finite, non-zero gradient for every parameter;
    /// in eval mode, changing the last token leaves every earlier position's logits unchanged (causality).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainsAndIsCausal(string mixer, int seqLen, int dModel)
    {
        using var scope = NewDisposeScope();
        const int vocab = 64;
        using var model = new LanguageModel(TestModels.Config(mixer, dModel, seqLen, vocab));
        var ids = randint(0, vocab, new long[] { 1, seqLen });

        model.train();
        var logits = model.forward(ids);
        Assert.Equal(new long[] { 1, seqLen, vocab }, logits.shape);
        var labels = randint(0, vocab, new long[] { seqLen });
        nn.functional.cross_entropy(logits.reshape(-1, vocab), labels).backward();
        Assert.True(logits.isfinite().all().item<bool>());
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.NotNull(p.grad);
            Assert.True(p.grad!.isfinite().all().item<bool>(), $"{name}: non-finite gradient");
            Assert.True(p.grad.abs().max().item<float>() > 0, $"{name}: zero gradient");
        }

        model.eval();
        using var noGrad = no_grad();
        var before = model.forward(ids);
        var changed = ids.clone();
        changed[0, seqLen - 1] = (ids[0, seqLen - 1] + 1) % vocab;
        var after = model.forward(changed);
        Assert.True(before.narrow(1, 0, seqLen - 1).equal(after.narrow(1, 0, seqLen - 1)).all().item<bool>(), "earlier positions saw a later token");
        Assert.False(before[0, seqLen - 1].equal(after[0, seqLen - 1]).all().item<bool>());
    }
}
