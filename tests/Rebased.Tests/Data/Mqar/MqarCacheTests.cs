using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data.Mqar;

public sealed class MqarCacheTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mqar-cache-");

    public MqarCacheTests() => TorchRuntime.EnsureLoaded();

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly MqarArgs Args = new(8192, 40, 128, 16, Seed: 42);

    [Theory]
    [InlineData(MqarMode.Fast)]
    [InlineData(MqarMode.NumpyCompatible)]
    public void SecondCallLoadsTheStoredSetUnchanged(MqarMode mode)
    {
        var first = MqarCache.LoadOrGenerate(Args, mode, _dir.FullName);
        var path = MqarCache.PathFor(Args, mode, _dir.FullName);
        Assert.True(File.Exists(path));
        var written = File.GetLastWriteTimeUtc(path);
        var second = MqarCache.LoadOrGenerate(Args, mode, _dir.FullName);
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(mode, second.Mode);
        AssertSameData(MqarGenerator.Generate(Args, mode), first);
        AssertSameData(first, second);
    }

    [Fact]
    public void TheFileIsWhatIsServed()
    {
        var path = MqarCache.PathFor(Args, MqarMode.Fast, _dir.FullName);
        var other = MqarGenerator.Generate(Args with { Seed = 7 }, MqarMode.Fast);
        MqarCache.Save(new MqarDataset(Args, MqarMode.Fast, other.Tokens, other.SupervisedMask), path);
        var served = MqarCache.LoadOrGenerate(Args, MqarMode.Fast, _dir.FullName);
        Assert.Equal(Args, served.Args);
        AssertSameTensors(other, served);
    }

    [Fact]
    public void AFileFromAnotherGeneratorVersionIsNeverServed()
    {
        var path = MqarCache.PathFor(Args, MqarMode.Fast, _dir.FullName);
        var stale = MqarGenerator.Generate(Args with { Seed = 7 }, MqarMode.Fast);
        MqarCache.Save(new MqarDataset(Args, MqarMode.Fast, stale.Tokens, stale.SupervisedMask), path, MqarCache.Key(Args, MqarMode.Fast, "fast-0"));
        Assert.Null(MqarCache.TryLoad(path, Args, MqarMode.Fast));
        var served = MqarCache.LoadOrGenerate(Args, MqarMode.Fast, _dir.FullName);
        AssertSameData(MqarGenerator.Generate(Args, MqarMode.Fast), served);
        Assert.NotNull(MqarCache.TryLoad(path, Args, MqarMode.Fast));
        Assert.NotEqual(MqarCache.PathFor(MqarCache.Key(Args, MqarMode.Fast, "fast-0"), _dir.FullName), path);
    }

    [Fact]
    public void ATruncatedFileIsRegenerated()
    {
        MqarCache.LoadOrGenerate(Args, MqarMode.Fast, _dir.FullName);
        var path = MqarCache.PathFor(Args, MqarMode.Fast, _dir.FullName);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 100);
        Assert.Null(MqarCache.TryLoad(path, Args, MqarMode.Fast));
        AssertSameData(MqarGenerator.Generate(Args, MqarMode.Fast), MqarCache.LoadOrGenerate(Args, MqarMode.Fast, _dir.FullName));
    }

    [Fact]
    public void EveryArgumentAndTheModeChangeTheKey()
    {
        var variants = new[]
        {
            Args, Args with { VocabSize = 8193 }, Args with { NumExamples = 41 }, Args with { SeqLen = 130 }, Args with { NumKvPairs = 15 },
            Args with { PowerA = 0.010000000000000002 }, Args with { RandomNonQueries = true }, Args with { Seed = 43 },
        };
        var paths = variants.Select(a => MqarCache.PathFor(a, MqarMode.Fast, _dir.FullName))
            .Append(MqarCache.PathFor(Args, MqarMode.NumpyCompatible, _dir.FullName)).ToList();
        Assert.Equal(paths.Count, paths.Distinct().Count());
    }

    [Fact]
    public void DefaultFolderFollowsTheEnvironment()
    {
        var saved = Environment.GetEnvironmentVariable(MqarCache.CacheVariable);
        try
        {
            Environment.SetEnvironmentVariable(MqarCache.CacheVariable, _dir.FullName);
            Assert.Equal(Path.Combine(_dir.FullName, "mqar"), MqarCache.DefaultDirectory);
            Environment.SetEnvironmentVariable(MqarCache.CacheVariable, null);
            Assert.EndsWith(Path.Combine(".cache", "rebased", "mqar"), MqarCache.DefaultDirectory);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MqarCache.CacheVariable, saved);
        }
    }

    private static void AssertSameData(MqarDataset expected, MqarDataset actual)
    {
        Assert.Equal(expected.Args, actual.Args);
        AssertSameTensors(expected, actual);
    }

    private static void AssertSameTensors(MqarDataset expected, MqarDataset actual)
    {
        var (ei, el) = expected.ToTensors();
        var (ai, al) = actual.ToTensors();
        MqarNumpyCompatibleTests.AssertSameTensor(ei, ai, "inputs");
        MqarNumpyCompatibleTests.AssertSameTensor(el, al, "labels");
    }
}
