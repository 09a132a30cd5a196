using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// Causal multi-head softmax attention (the reference's <c>MHA</c>): a fused q/k/v projection with bias,
/// scores q·kᵀ/√head_dim with −10000 added above the diagonal (not −∞), softmax, dropout on the
/// probabilities (training only) and an output projection with bias. Parameter names: Wqkv, out_proj.
/// </summary>
public sealed class MultiHeadAttention : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    public const double MaskValue = -10000.0;

    [ComponentName(Name = "Wqkv")] private readonly Linear _wqkv;
    [ComponentName(Name = "out_proj")] private readonly Linear _outProj;

    public MultiHeadAttention(int dModel, int numHeads = 1, bool bias = true, double dropout = 0.0) : base(nameof(MultiHeadAttention))
    {
        if (numHeads < 1 || dModel % numHeads != 0)
            throw new UserError($"MHA: d_model {dModel} must be divisible by num_heads {numHeads}");
        NumHeads = numHeads;
        HeadDim = dModel / numHeads;
        Dropout = dropout;
        _wqkv = nn.Linear(dModel, 3 * dModel, hasBias: bias);
        _outProj = nn.Linear(dModel, dModel);
        register_module("Wqkv", _wqkv);
        register_module("out_proj", _outProj);
    }

    public int NumHeads { get; }
    public int HeadDim { get; }
    public double Dropout { get; }

    /// <summary>The key-value cache: a key and a value of H·head_dim per token seen.</summary>
    public long StateSize(int sequenceLength) => 2L * NumHeads * HeadDim * sequenceLength;

    public static MultiHeadAttention FromKwargs(MixerKwargs kwargs, int dModel)
    {
        var module = new MultiHeadAttention(dModel,
            numHeads: kwargs.Int("num_heads", 1),
            bias: kwargs.Bool("bias", true),
            dropout: kwargs.Double("dropout", 0.0));
        kwargs.Bool("log_scores", false);
        kwargs.RejectUnused();
        return module;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        // [B, T, 3·H·D] → [3, B, H, T, D]
        var qkv = MixedPrecision.Linear(_wqkv, x).view(b, t, 3, NumHeads, HeadDim).permute(2, 0, 3, 1, 4);
        var q = qkv[0];
        var k = qkv[1] * (1.0 / Math.Sqrt(HeadDim));
        var v = qkv[2];
        var scores = MixedPrecision.Matmul(q, k.transpose(-2, -1));
        var mask = full(t, t, MaskValue, dtype: scores.dtype, device: scores.device).triu(1);
        var attention = (scores + mask).softmax(-1);
        attention = nn.functional.dropout(attention, Dropout, training);
        var context = MixedPrecision.Matmul(attention, v).transpose(1, 2).reshape(b, t, NumHeads * HeadDim);
        return MixedPrecision.Linear(_outProj, context).MoveToOuterDisposeScope();
    }
}
