// Benchmarks that print ratios measured side by side in one run: `dotnet run -c Release --project bench/Rebased.Bench -- <name>`.
using Rebased.Bench;

var benchmarks = new Dictionary<string, (string Description, Func<string[], int> Run)>
{
    ["data"] = ("MQAR generation throughput (fast vs numpy-compatible), resident bytes per token, batch building", DataBench.Run),
    ["scans"] = ("WKV and selective scan: each form's forward + backward vs the recurrent form", ScanBench.Run),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var chosen))
{
    Console.Error.WriteLine("usage: Rebased.Bench <benchmark> [options]");
    foreach (var (name, (description, _)) in benchmarks) Console.Error.WriteLine($"  {name,-10} {description}");
    return 2;
}
return chosen.Run(args[1..]);
