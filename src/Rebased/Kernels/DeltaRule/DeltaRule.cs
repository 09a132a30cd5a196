namespace Rebased.Kernels.DeltaRule;

/// <summary>
/// The causal delta rule (DeltaNet; Schlag et al. 2021, chunked training by Yang et al. 2024), per batch and head,
/// with a state S of Dk×Dv: S_t = (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ (S_0 = 0), o_t = S_tᵀ (scale · q_t).
/// q, k: [B, H, T, Dk] (unit-norm k keeps I − β k kᵀ a contraction for β ∈ [0, 1]); v: [B, H, T, Dv];
/// beta: [B, H, T]. Returns o [B, H, T, Dv] in the dtype of v; differentiable in q, k, v and beta.
/// </summary>
public interface IDeltaRule : IKeyValueRecurrence;

/// <summary>The registered forms; <c>auto</c> prefers the chunked (WY) form over the token loop.</summary>
public static class DeltaRuleForms
{
    public static KernelForms<IDeltaRule> Registry { get; } =
        KernelForms.ChunkedOverRecurrent<IDeltaRule>("delta rule", new DeltaRuleChunked(), new DeltaRuleRecurrent());

    /// <summary>The inputs the checks and benchmarks give the forms: q and k L2-normalised and β = sigmoid(x), as the DeltaNet mixer makes them.</summary>
    public static KeyValueInputs Inputs { get; } = (normal, s) =>
    [
        nn.functional.normalize(normal([s.B, s.H, s.T, s.Dk]), dim: -1),
        nn.functional.normalize(normal([s.B, s.H, s.T, s.Dk]), dim: -1),
        normal([s.B, s.H, s.T, s.Dv]),
        normal([s.B, s.H, s.T]).sigmoid(),
    ];
}
