using Rebased.Configs;
using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data;

public class DataTasksTests
{
    private const string Rebased = "model:\n  sequence_mixer:\n    name: rebased\n";

    [Fact]
    public void BuilderAndCommandNamesAreUnique()
    {
        Assert.Equal(DataTasks.BuilderNames.Count, DataTasks.BuilderNames.Distinct().Count());
        Assert.Equal(DataTasks.All.Count, DataTasks.All.Select(t => t.CommandName).Distinct().Count());
        foreach (var task in DataTasks.All) Assert.Same(task, DataTasks.Find(task.BuilderNames[0]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("data:\n  builder:\n    name: multiquery_ar\n")]
    [InlineData("data:\n  builder:\n    name: src.data.associative_recall.multiquery_ar\n")]
    public void MqarIsTheDefaultAndTheReferenceNamesSelectIt(string data)
    {
        var config = ConfigResolver.Resolve(ConfigLoader.Parse(Rebased + data, "test.yaml")).Config;
        Assert.IsType<MqarTask>(config.Data.Task());
    }

    [Fact]
    public void AConfigWithoutABuilderNameHashesAsOneNamingTheDefault()
    {
        var absent = ConfigResolver.Resolve(ConfigLoader.Parse(Rebased, "test.yaml")).Config;
        var named = ConfigResolver.Resolve(ConfigLoader.Parse(Rebased + "data:\n  builder:\n    name: multiquery_ar\n", "test.yaml")).Config;
        Assert.Contains("name: multiquery_ar", ConfigWriter.ToYaml(absent));
        Assert.Equal(ConfigWriter.ShortHash(named), ConfigWriter.ShortHash(absent));
    }

    [Theory]
    [InlineData("data:\n  builder:\n    name: induction_heads\n", "test.yaml: data.builder.name: unknown data builder 'induction_heads' (known: multiquery_ar")]
    [InlineData("data:\n  kv_pairs_rule: false\n  input_seq_len: 32\n  builder:\n    kwargs:\n      num_kv_pairs: 9\n",
        "test.yaml: data.builder.kwargs.num_kv_pairs: 4·K = 36 exceeds data.input_seq_len 32")]
    [InlineData("data:\n  builder:\n    kwargs:\n      num_kv_pairs: 0\n", "test.yaml: data.builder.kwargs.num_kv_pairs: expects a positive integer, got '0'")]
    [InlineData("data:\n  builder:\n    kwargs:\n      train_power_a: -1\n", "test.yaml: data.builder.kwargs.train_power_a: expects a positive number, got '-1'")]
    public void TaskErrorsAreOneLineNamingTheFileAndKey(string data, string expected)
    {
        var e = Assert.Throws<UserError>(() => ConfigResolver.Resolve(ConfigLoader.Parse(Rebased + data, "test.yaml")));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheMqarSplitsAreTheReferencesTrainAndTestSets()
    {
        var request = new RunDataRequest(64, 16, 8, 4, 5, new Dictionary<string, object?> { ["num_kv_pairs"] = 2, ["test_power_a"] = 1.0 }, DataMode.NumpyCompatible);
        var splits = new MqarTask().Splits(request);
        var train = (MqarDataset)splits.Train.Generate();
        var test = (MqarDataset)splits.Test.Generate();
        Assert.Equal(new MqarArgs(64, 8, 16, 2, 0.01, false, 5), train.Args);
        Assert.Equal(new MqarArgs(64, 4, 16, 2, 1.0, false, 15), test.Args);
        Assert.Equal(MqarMode.NumpyCompatible, train.Mode);
        Assert.Equal("K = 2", splits.Train.Shape);
    }

    [Theory]
    [InlineData(512, MqarMode.NumpyCompatible)]
    [InlineData(1024, MqarMode.Fast)]
    public void AutoModeIsNumpyCompatibleUpTo512(int seqLen, MqarMode expected)
    {
        var request = new RunDataRequest(2048, seqLen, 1, 1, 0, new Dictionary<string, object?> { ["num_kv_pairs"] = 4 }, DataMode.Auto);
        Assert.Equal(expected.ToString(), new MqarTask().Splits(request).Train.Generator);
    }

    [Theory]
    [InlineData("num_kv_pairs", 0, "MQAR kv-pairs: must be at least 1, got 0")]
    [InlineData("power_a", -1.0, "MQAR power-a: must be a positive finite number, got -1")]
    [InlineData("num_updates", 2, "--arg num_updates: unknown argument of the MQAR builder (known: num_kv_pairs, power_a, random_non_queries)")]
    [InlineData("random_non_queries", "maybe", "--arg random_non_queries: expects true or false, got 'maybe'")]
    public void DataCommandArgumentsAreCheckedByTheTaskNamingTheArgument(string name, object value, string expected)
    {
        var kwargs = new Dictionary<string, object?> { ["num_kv_pairs"] = 4, ["power_a"] = 0.01, [name] = value };
        var e = Assert.Throws<UserError>(() => new MqarTask().Set(new SetRequest(64, 4, 32, 0, kwargs, DataMode.Fast)));
        Assert.Equal(expected, e.Message);
    }
}
