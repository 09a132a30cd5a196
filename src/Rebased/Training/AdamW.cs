using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Rebased.Training;

/// <summary>
/// AdamW with PyTorch's defaults and update order (torch.optim.AdamW, no amsgrad): decoupled weight decay
/// p ← p·(1 − lr·wd), then m ← lerp(m, g, 1 − β₁), v ← β₂v + (1 − β₂)g², p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
/// Its state (step count, m, v per named parameter) is plain tensors, so that checkpoints hold it as safetensors.
/// </summary>
public sealed class AdamW
{
    private readonly (string Name, Parameter Param)[] _params;
    private readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = new();

    public double LearningRate { get; set; }
    public double WeightDecay { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    /// <summary>Optimizer steps taken (PyTorch's per-parameter `step`, shared here since all parameters step together).</summary>
    public long Steps { get; private set; }

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, double lr, double weightDecay = 0.01,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        _params = parameters.ToArray();
        LearningRate = lr;
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in _params)
            if (p.grad is { } g) { g.Dispose(); p.grad = null; }
    }

    public void Step()
    {
        Steps++;
        double biasCorrection1 = 1 - Math.Pow(Beta1, Steps);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Steps));
        double stepSize = LearningRate / biasCorrection1;
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, p) in _params)
        {
            var grad = p.grad;
            if (grad is null) continue;
            if (!_state.TryGetValue(name, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                _state[name] = s;
            }
            p.mul_(1 - LearningRate * WeightDecay);
            s.ExpAvg.lerp_(grad, 1 - Beta1);
            s.ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
            var denom = s.ExpAvgSq.sqrt().div_(biasCorrection2Sqrt).add_(Epsilon);
            p.addcdiv_(s.ExpAvg, denom, -stepSize);
        }
    }

    /// <summary>The state as named tensors (exp_avg.NAME, exp_avg_sq.NAME) on the parameters' device.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var (name, (m, v)) in _state)
        {
            yield return new($"exp_avg.{name}", m);
            yield return new($"exp_avg_sq.{name}", v);
        }
    }

    /// <summary>Restores a state saved by <see cref="StateTensors"/>; every tensor must match its parameter's shape.</summary>
    public void LoadState(long steps, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var byName = _params.ToDictionary(p => p.Name, p => p.Param);
        foreach (var key in tensors.Keys)
        {
            var dot = key.IndexOf('.');
            var kind = dot > 0 ? key[..dot] : "";
            if (kind is not ("exp_avg" or "exp_avg_sq") || !byName.ContainsKey(key[(dot + 1)..]))
                throw new UserError($"{source}: optimizer state entry '{key}' matches no parameter of this model");
        }
        foreach (var (s, _) in _state.Values.ToList()) s.Dispose();
        _state.Clear();
        foreach (var (name, p) in _params)
        {
            bool hasM = tensors.TryGetValue($"exp_avg.{name}", out var m), hasV = tensors.TryGetValue($"exp_avg_sq.{name}", out var v);
            if (!hasM && !hasV) continue;
            if (!hasM || !hasV) throw new UserError($"{source}: optimizer state for '{name}' is incomplete");
            if (!m!.shape.SequenceEqual(p.shape) || !v!.shape.SequenceEqual(p.shape))
                throw new UserError($"{source}: optimizer state for '{name}' has shape [{string.Join(",", m.shape)}], the parameter [{string.Join(",", p.shape)}]");
            _state[name] = (m.to(p.dtype, p.device, copy: true).DetachFromDisposeScope(), v.to(p.dtype, p.device, copy: true).DetachFromDisposeScope());
        }
        Steps = steps;
    }
}
