using System.Reflection;

namespace Rebased;

/// <summary>Facts about this build of the library, recorded with results so that a reader knows which code made them.</summary>
public static class BuildInfo
{
    /// <summary>The git commit the library was built from (the SDK appends it to the informational version), or null.</summary>
    public static string? Commit { get; } = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()
        ?.InformationalVersion.Split('+') is [_, var commit, ..] ? commit : null;
}
