namespace Rebased.Kernels;

/// <summary>One implementation ("form") of an op: every form of a family computes the same function.</summary>
public interface IKernelForm
{
    /// <summary>The form's name as used in configs and on the command line.</summary>
    string Name { get; }

    /// <summary>Whether this form runs on tensors of this device and dtype.</summary>
    bool Supports(Device device, ScalarType dtype);
}

/// <summary>
/// The forms of one op family by name. <c>auto</c> follows a declared preference order of names (fastest first)
/// that must name every registered form exactly once, so adding a form forces a decision about where it ranks.
/// </summary>
public sealed class KernelForms<TForm> where TForm : IKernelForm
{
    private readonly IReadOnlyList<TForm> _forms;
    private readonly IReadOnlyList<string> _autoPreference;

    /// <param name="family">The op's name in error messages ("gated linear attention").</param>
    /// <param name="forms">Every implementation; several may share a name (one per device), the first supporting one wins.</param>
    /// <param name="autoPreference">Every distinct name, in the order <c>auto</c> tries them.</param>
    public KernelForms(string family, IReadOnlyList<TForm> forms, IReadOnlyList<string> autoPreference)
    {
        var names = forms.Select(f => f.Name).Distinct().Order(StringComparer.Ordinal);
        if (!names.SequenceEqual(autoPreference.Order(StringComparer.Ordinal)))
            throw new ArgumentException($"{family}: the auto preference [{string.Join(", ", autoPreference)}] must list every form name once ([{string.Join(", ", names)}])");
        Family = family;
        _forms = forms;
        _autoPreference = autoPreference;
    }

    public string Family { get; }

    public IReadOnlyList<TForm> All => _forms;

    /// <summary>The distinct names, in the order of the auto preference.</summary>
    public IReadOnlyList<string> Names => _autoPreference;

    /// <summary>One implementation per name that supports this device and dtype, in the order of the auto preference.</summary>
    public IEnumerable<TForm> Supporting(Device device, ScalarType dtype) =>
        _autoPreference.Select(name => _forms.FirstOrDefault(f => f.Name == name && f.Supports(device, dtype)))
            .Where(f => f is not null).Select(f => f!);

    /// <summary>The form called <paramref name="name"/>, or for "auto" the most preferred one that supports the device and dtype.</summary>
    public TForm Get(string name, Device device, ScalarType dtype)
    {
        if (name == "auto")
            return Supporting(device, dtype).FirstOrDefault()
                ?? throw new UserError($"no {Family} form supports {device.type} {dtype}");
        var named = _forms.Where(f => f.Name == name).ToList();
        if (named.Count == 0) throw Unknown(name);
        return named.Find(f => f.Supports(device, dtype))
            ?? throw new UserError($"{Family} form '{name}' does not support {device.type} {dtype}");
    }

    /// <summary>
    /// The first form called <paramref name="name"/>, whatever it supports: for families whose <c>auto</c> is chosen
    /// per call, once the tensors are there.
    /// </summary>
    public TForm Named(string name) => _forms.FirstOrDefault(f => f.Name == name) ?? throw Unknown(name);

    private UserError Unknown(string name) => new($"unknown {Family} form '{name}' (known: auto, {string.Join(", ", Names)})");

    /// <summary>Whether <paramref name="name"/> is "auto" or a registered name (for validating configs before any tensor exists).</summary>
    public bool IsKnown(string name) => name == "auto" || _autoPreference.Contains(name);

    /// <summary>Refuses a name that is not <see cref="IsKnown"/>, naming the mixer and the kwarg that chose it.</summary>
    public void RequireKnown(string name, string mixer, string kwarg)
    {
        if (!IsKnown(name)) throw new UserError($"{mixer}: unknown {kwarg} '{name}' (known: auto, {string.Join(", ", Names)})");
    }
}

public static class KernelForms
{
    /// <summary>A family of a chunked form and the token loop it is checked against, <c>auto</c> preferring the chunked one.</summary>
    public static KernelForms<TForm> ChunkedOverRecurrent<TForm>(string family, TForm chunked, TForm recurrent) where TForm : IKernelForm =>
        new(family, [chunked, recurrent], autoPreference: ["chunked", "recurrent"]);
}
