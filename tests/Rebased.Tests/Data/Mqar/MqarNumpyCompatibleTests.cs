using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Rebased.Data;
using Rebased.Data.Mqar;
using Rebased.IO;

namespace Rebased.Tests.Data.Mqar;

/// <summary>numpy-compatible mode against the reference generator's own output (every fixture in TestData/mqar).</summary>
public class MqarNumpyCompatibleTests
{
    public MqarNumpyCompatibleTests() => TorchRuntime.EnsureLoaded();

    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "TestData", "mqar");

    public static TheoryData<string> Fixtures() => new(FixtureFiles());

    internal static IEnumerable<string> FixtureFiles() => Manifest()["sets"]!.AsArray().Select(set => set!["file"]!.GetValue<string>());

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LibraryReproducesTheReferenceBitForBit(string file)
    {
        var (args, checks) = FixtureArgs(file);
        var expected = SafeTensors.Load(Path.Combine(FixtureDir, file));
        var data = MqarGenerator.Generate(args, MqarMode.NumpyCompatible);
        var (inputs, labels) = data.ToTensors();
        AssertSameTensor(expected["inputs"], inputs, "inputs");
        AssertSameTensor(expected["labels"], labels, "labels");
        Assert.Equal(checks["inputs_sha256"]!.GetValue<string>(), Sha256(inputs));
        Assert.Equal(checks["labels_sha256"]!.GetValue<string>(), Sha256(labels));
    }

    [Fact]
    public void CliReproducesEveryFixture()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll");
        var dir = Directory.CreateTempSubdirectory("mqar-cli-");
        try
        {
            foreach (var file in FixtureFiles())
            {
                var (args, _) = FixtureArgs(file);
                var output = Path.Combine(dir.FullName, file);
                var (code, _, stderr) = RunCli(cli, "data", "mqar", "--vocab", $"{args.VocabSize}", "--seq-len", $"{args.SeqLen}",
                    "--kv-pairs", $"{args.NumKvPairs}", "--examples", $"{args.NumExamples}", "--seed", $"{args.Seed}",
                    "--power-a", "0.01", "--numpy-compatible", "--out", output);
                Assert.True(code == 0, $"exit {code}: {stderr}");
                var expected = SafeTensors.Load(Path.Combine(FixtureDir, file));
                var actual = SafeTensors.Load(output);
                Assert.Equal(new[] { "inputs", "labels" }, actual.Keys.Order());
                AssertSameTensor(expected["inputs"], actual["inputs"], $"{file} inputs");
                AssertSameTensor(expected["labels"], actual["labels"], $"{file} labels");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void CliRejectsBadArgumentsWithOneLineNamingTheArgument()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll");
        var (code, _, stderr) = RunCli(cli, "data", "mqar", "--vocab", "8192", "--seq-len", "63", "--kv-pairs", "8",
            "--examples", "4", "--seed", "0", "--out", Path.Combine(Path.GetTempPath(), "never-written.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("seq-len", stderr);
        Assert.Contains("even", stderr);
        Assert.DoesNotContain("   at ", stderr);

        (code, _, stderr) = RunCli(cli, "data", "mqar", "--vocab", "8192", "--seq-len", "64");
        Assert.Equal(2, code);
        Assert.Contains("kv-pairs", stderr);

        (code, var stdout, stderr) = RunCli(cli, "data", "mqar", "--help");
        Assert.True(code == 0, stderr);
        Assert.Contains("--numpy-compatible", stdout);
        Assert.Contains("[0, V)", stdout);
    }

    [Fact]
    public void TestSetUsesSeedPlusTen()
    {
        var train = new MqarArgs(8192, 16, 64, 8, Seed: 32);
        var test = train.TestSet(16);
        Assert.Equal(42, test.Seed);
        var (args, _) = FixtureArgs("mqar_v8192_L64_K8_n16_seed42.safetensors");
        Assert.Equal(args, test);
    }

    internal static JsonObject Manifest() => JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir, "manifest.json")))!.AsObject();

    internal static (MqarArgs Args, JsonObject Checks) FixtureArgs(string file)
    {
        var set = Manifest()["sets"]!.AsArray().Single(s => s!["file"]!.GetValue<string>() == file)!;
        var g = set["generator_args"]!;
        var args = new MqarArgs(g["vocab_size"]!.GetValue<int>(), g["num_examples"]!.GetValue<int>(), g["input_seq_len"]!.GetValue<int>(),
            g["num_kv_pairs"]!.GetValue<int>(), g["power_a"]!.GetValue<double>(), g["random_non_queries"]!.GetValue<bool>(), g["seed"]!.GetValue<long>());
        return (args, set["checks"]!.AsObject());
    }

    internal static void AssertSameTensor(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.data<long>().ToArray();
        var a = actual.data<long>().ToArray();
        int first = Enumerable.Range(0, e.Length).FirstOrDefault(i => e[i] != a[i], -1);
        Assert.True(first < 0, first < 0 ? "" : $"{what}: first difference at flat index {first} (row {first / expected.shape[1]}, column {first % expected.shape[1]}): expected {e[first]}, got {a[first]}");
    }

    private static string Sha256(Tensor t) => Convert.ToHexStringLower(SHA256.HashData(t.contiguous().bytes));

    internal static (int Code, string Stdout, string Stderr) RunCli(string cliDll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cliDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
