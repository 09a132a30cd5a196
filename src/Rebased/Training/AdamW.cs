using Parameter = TorchSharp.Modules.Parameter;

namespace Rebased.Training;

/// <summary>
/// AdamW with PyTorch's defaults and update order (torch.optim.AdamW, no amsgrad): decoupled weight decay
/// p ← p·(1 − lr·wd), then m ← lerp(m, g, 1 − β₁), v ← β₂v + (1 − β₂)g², p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
/// The parameters of each device and dtype are moved into one flat buffer (each parameter becomes a view of it),
/// and the moments are flat buffers alongside, so that a step is a few whole-buffer operations rather than
/// several per parameter: on a GPU that is the difference between about ten kernel launches and hundreds.
/// A parameter without a gradient is skipped, as PyTorch does; its moments exist once it has stepped.
/// The state (step count, m and v per named parameter) is exposed as plain tensors for checkpoints.
/// </summary>
public sealed class AdamW
{
    private readonly Group[] _groups;

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
        LearningRate = lr;
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
        _groups = parameters.GroupBy(p => (p.Param.device.ToString(), p.Param.dtype)).Select(g => new Group(g.ToArray())).ToArray();
    }

    public void ZeroGrad()
    {
        foreach (var group in _groups)
            foreach (var m in group.Members)
                if (m.Param.grad is { } g) { g.Dispose(); m.Param.grad = null; }
    }

    public void Step()
    {
        Steps++;
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Steps));
        double stepSize = LearningRate / (1 - Math.Pow(Beta1, Steps));
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        foreach (var group in _groups)
        {
            var grads = group.Members.Select(m => m.Param.grad).ToArray();
            if (grads.All(g => g is not null))
            {
                var flatGrad = cat(grads.Select(g => g!.reshape(-1)).ToArray());
                Update(group.Values, group.ExpAvg, group.ExpAvgSq, flatGrad, stepSize, biasCorrection2Sqrt);
                foreach (var m in group.Members) m.Stepped = true;
                continue;
            }
            foreach (var (m, grad) in group.Members.Zip(grads))
            {
                if (grad is null) continue;
                Update(m.Param, group.Slice(group.ExpAvg, m), group.Slice(group.ExpAvgSq, m), grad, stepSize, biasCorrection2Sqrt);
                m.Stepped = true;
            }
        }
    }

    private void Update(Tensor p, Tensor expAvg, Tensor expAvgSq, Tensor grad, double stepSize, double biasCorrection2Sqrt)
    {
        p.mul_(1 - LearningRate * WeightDecay);
        grad = grad.reshape(expAvg.shape);
        expAvg.lerp_(grad, 1 - Beta1);
        expAvgSq.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
        var denom = expAvgSq.sqrt().div_(biasCorrection2Sqrt).add_(Epsilon);
        p.addcdiv_(expAvg, denom, -stepSize);
    }

    /// <summary>The state as named tensors (exp_avg.NAME, exp_avg_sq.NAME) on the parameters' device, for the parameters that have stepped.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var group in _groups)
            foreach (var m in group.Members.Where(m => m.Stepped))
            {
                yield return new($"exp_avg.{m.Name}", group.Slice(group.ExpAvg, m));
                yield return new($"exp_avg_sq.{m.Name}", group.Slice(group.ExpAvgSq, m));
            }
    }

    /// <summary>Restores a state saved by <see cref="StateTensors"/>; every tensor must match its parameter's shape.</summary>
    public void LoadState(long steps, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var members = _groups.SelectMany(g => g.Members.Select(m => (Group: g, Member: m))).ToDictionary(x => x.Member.Name);
        foreach (var key in tensors.Keys)
        {
            var dot = key.IndexOf('.');
            var kind = dot > 0 ? key[..dot] : "";
            if (kind is not ("exp_avg" or "exp_avg_sq") || !members.ContainsKey(key[(dot + 1)..]))
                throw new UserError($"{source}: optimizer state entry '{key}' matches no parameter of this model");
        }
        foreach (var (name, (group, m)) in members)
        {
            bool hasM = tensors.TryGetValue($"exp_avg.{name}", out var expAvg), hasV = tensors.TryGetValue($"exp_avg_sq.{name}", out var expAvgSq);
            if (hasM != hasV) throw new UserError($"{source}: optimizer state for '{name}' is incomplete");
            if (hasM && (!expAvg!.shape.SequenceEqual(m.Param.shape) || !expAvgSq!.shape.SequenceEqual(m.Param.shape)))
                throw new UserError($"{source}: optimizer state for '{name}' has shape [{string.Join(",", expAvg.shape)}], the parameter [{string.Join(",", m.Param.shape)}]");
        }
        using var noGrad = torch.no_grad();
        foreach (var (name, (group, m)) in members)
        {
            var (expAvg, expAvgSq) = (group.Slice(group.ExpAvg, m), group.Slice(group.ExpAvgSq, m));
            m.Stepped = tensors.TryGetValue($"exp_avg.{name}", out var savedM);
            if (m.Stepped)
            {
                expAvg.copy_(savedM!);
                expAvgSq.copy_(tensors[$"exp_avg_sq.{name}"]);
            }
            else
            {
                expAvg.zero_();
                expAvgSq.zero_();
            }
        }
        Steps = steps;
    }

    private sealed class Member(string name, Parameter param, long offset)
    {
        public string Name { get; } = name;
        public Parameter Param { get; } = param;
        public long Offset { get; } = offset;
        public bool Stepped { get; set; }
    }

    /// <summary>Parameters of one device and dtype, moved into <see cref="Values"/>; moments in flat buffers of the same layout.</summary>
    private sealed class Group
    {
        public Group((string Name, Parameter Param)[] parameters)
        {
            long total = 0;
            Members = parameters.Select(p => { var m = new Member(p.Name, p.Param, total); total += p.Param.numel(); return m; }).ToArray();
            var first = parameters[0].Param;
            Values = empty(total, first.dtype, first.device).DetachFromDisposeScope();
            ExpAvg = zeros(total, first.dtype, first.device).DetachFromDisposeScope();
            ExpAvgSq = zeros(total, first.dtype, first.device).DetachFromDisposeScope();
            using var noGrad = torch.no_grad();
            foreach (var m in Members)
            {
                using var view = Slice(Values, m);
                view.copy_(m.Param);
                m.Param.set_(view);
            }
        }

        public Member[] Members { get; }
        public Tensor Values { get; }
        public Tensor ExpAvg { get; }
        public Tensor ExpAvgSq { get; }

        public Tensor Slice(Tensor flat, Member m) => flat.narrow(0, m.Offset, m.Param.numel()).view(m.Param.shape);
    }
}
