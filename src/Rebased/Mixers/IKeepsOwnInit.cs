namespace Rebased.Mixers;

/// <summary>
/// A mixer whose parameters the model-wide initialisation (normal 0.02 for Linear/Embedding, rescaled out_proj)
/// must not touch: the reference's global init never reaches it, so it keeps the initialisation of its constructor.
/// </summary>
public interface IKeepsOwnInit;
