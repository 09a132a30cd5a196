using Rebased.Bench;

// Usage: Rebased.Bench <suite> [options]; each suite lives in its own file and prints its measurements.
var suites = new Dictionary<string, Func<string[], int>>
{
    ["data"] = DataBench.Run,
};

if (args.Length == 0 || !suites.TryGetValue(args[0], out var suite))
{
    Console.Error.WriteLine($"usage: Rebased.Bench <{string.Join("|", suites.Keys)}> [options]");
    return 2;
}
return suite(args[1..]);
