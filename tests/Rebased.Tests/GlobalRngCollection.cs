namespace Rebased.Tests;

/// <summary>
/// Tests that seed TorchSharp's default generator and depend on the exact draws that follow (initialisation,
/// dropout, training). They run alone, after the parallel tests, because any concurrent test that creates
/// parameters draws from the same generator.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global RNG";
}
