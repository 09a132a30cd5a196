namespace Rebased.Data;

/// <summary>Every task, one line each; data.builder.name selects one, and MQAR (the reference's builder) is the default.</summary>
public static class DataTasks
{
    public static IReadOnlyList<IDataTask> All { get; } =
    [
        new Mqar.MqarTask(),
        new CompositionalMqar.CompositionalMqarTask(),
        new ForgettingMqar.ForgettingMqarTask(),
    ];

    public static IReadOnlyList<string> BuilderNames { get; } = All.SelectMany(t => t.BuilderNames).ToArray();

    public static IDataTask? Find(string builderName) => All.FirstOrDefault(t => t.BuilderNames.Contains(builderName));
}
