using Rebased.Configs;
using Rebased.Data;
using Rebased.Tests.Data.Mqar;
using Rebased.Tests.Training;

namespace Rebased.Tests.Data;

/// <summary>Checks the data-task tests share: a task's config in the repository, and its generator's seeding.</summary>
internal static class TaskTestKit
{
    public static RunConfig ResolveRepoConfig(string fileName) =>
        ConfigResolver.Resolve(ConfigLoader.Load(ConfigTests.RepoFile("configs", fileName))).Config;

    /// <summary>The repository config with <paramref name="assignment"/> is refused by an error that starts with its path and <paramref name="expected"/>.</summary>
    public static void AssertOverrideRefused(string fileName, string assignment, string expected)
    {
        var path = ConfigTests.RepoFile("configs", fileName);
        var e = Assert.Throws<UserError>(() => ConfigResolver.Resolve(ConfigLoader.Load(path, [assignment])));
        Assert.Equal($"{path}: {expected}", e.Message[..$"{path}: {expected}".Length]);
    }

    /// <summary>The same seed gives the same rows and labels again; the next seed gives other rows.</summary>
    public static void AssertEachSeedGivesItsOwnSet(Func<long, ITaskSet> generate, long seed)
    {
        var (first, firstLabels) = MqarChecks.Dense(generate(seed));
        var (again, againLabels) = MqarChecks.Dense(generate(seed));
        var (other, _) = MqarChecks.Dense(generate(seed + 1));
        Assert.Equal(first, again);
        Assert.Equal(firstLabels, againLabels);
        Assert.NotEqual(first, other);
    }
}
