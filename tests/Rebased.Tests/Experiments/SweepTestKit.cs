using System.Diagnostics;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

/// <summary>
/// A temporary sweep folder with a fake trainer: a bash script taking `rebased train`'s arguments that "trains"
/// a few short epochs, writes metrics.jsonl, checkpoints/last after each epoch, and summary.json at the end (a
/// resume reads the run's arguments back from the directory, as the real one reads config.yaml), and logs
/// every start (with its resume point) and finish to a shared log; a run trained to the end a second time logs
/// "duplicate". Like the real trainer it holds an flock on trainer.lock, drops metrics lines past the checkpoint
/// it resumes from, stops on SIGINT/SIGTERM, and stops when the sweep that started it (REBASED_PARENT_PID) is gone. Its accuracy is a function of the run's
/// overrides, so that results can be checked. A run of the mixer named by --fake-crash (crash, which only the executor
/// accepts, or a real mixer for sweeps the CLI checks first) exits 3.
/// </summary>
public sealed class SweepTestKit : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"rebased-sweep-{Guid.NewGuid():N}");
    public string Log => Path.Combine(Dir, "trainer.log");
    public string Trainer => Path.Combine(Dir, "fake_train.sh");

    const string Script = """
        #!/usr/bin/env bash
        set -euo pipefail
        log=""; epochs=3; pause=0.05; crash="crash"; dir=""; resume=""; device="default"; mixer="rebased"; d=64; lr=0.001
        while [ $# -gt 0 ]; do
          case "$1" in
            --run-dir) dir="$2"; shift 2;;
            --resume) resume="$2"; shift 2;;
            --device) device="$2"; shift 2;;
            --config) shift 2;;
            --log) log="$2"; shift 2;;
            --fake-epochs) epochs="$2"; shift 2;;
            --fake-epoch-seconds) pause="$2"; shift 2;;
            --fake-crash) crash="$2"; shift 2;;
            --set)
              case "$2" in
                model.sequence_mixer.name=*) mixer="${2#*=}";;
                model.d_model=*) d="${2#*=}";;
                learning_rate=*) lr="${2#*=}";;
              esac
              shift 2;;
            *) echo "unknown argument $1" >&2; exit 2;;
          esac
        done
        first=1
        [ -n "$resume" ] && dir="$resume"
        # Like `rebased train`: one trainer per run directory, by an flock on trainer.lock held for its life.
        mkdir -p "$dir"
        exec 9>>"$dir/trainer.lock"
        flock -n 9 || { echo "$dir: another process is training this run" >&2; exit 5; }
        if [ -n "$resume" ]; then
          source "$dir/fake_args"
          first=$(( $(cat "$dir/checkpoints/last/epoch") + 1 ))
          # Metrics lines past the checkpoint are dropped, as the real trainer does.
          if [ -e "$dir/metrics.jsonl" ]; then
            awk -v f="$first" 'match($0, /"epoch":[0-9]+/) && substr($0, RSTART + 8, RLENGTH - 8) + 0 < f' "$dir/metrics.jsonl" > "$dir/metrics.kept"
            mv "$dir/metrics.kept" "$dir/metrics.jsonl"
          fi
        else
          # Like `rebased train`: a fresh start refuses a directory that already holds a run.
          if [ -e "$dir/metrics.jsonl" ] || [ -e "$dir/checkpoints" ] || [ -e "$dir/summary.json" ]; then echo "$dir holds a run" >&2; exit 4; fi
          printf 'mixer=%s\nd=%s\nlr=%s\n' "$mixer" "$d" "$lr" > "$dir/fake_args"
        fi
        echo "start $dir from=$first device=$device" >> "$log"
        # Ctrl-C or SIGTERM: stop at the next epoch boundary, as the real trainer stops at the next step.
        trap 'echo "interrupted $dir" >> "$log"; exit 130' INT TERM
        if [ "$mixer" = "$crash" ]; then echo "boom: mixer crash is not a mixer" >&2; exit 3; fi
        acc=$(awk -v d="$d" -v lr="$lr" 'BEGIN { printf "%.6f", d / 1000.0 + lr }')
        for ((e=first; e<=epochs; e++)); do
          sleep "$pause"
          # The sweep that started it is gone: stop, as the real trainer does.
          if [ -n "${REBASED_PARENT_PID:-}" ] && ! kill -0 "$REBASED_PARENT_PID" 2>/dev/null; then echo "orphaned $dir" >> "$log"; exit 130; fi
          echo "{\"step\":$((e*10)),\"epoch\":$e,\"lr\":$lr,\"train_loss\":1.0,\"valid_loss\":1.0,\"valid_accuracy\":$acc,\"tokens_per_s\":1000,\"elapsed_s\":$e}" >> "$dir/metrics.jsonl"
          mkdir -p "$dir/checkpoints/last"
          echo "$e" > "$dir/checkpoints/last/epoch.tmp" && mv "$dir/checkpoints/last/epoch.tmp" "$dir/checkpoints/last/epoch"
        done
        echo "{\"best_accuracy\":$acc,\"epochs_run\":$epochs,\"wall_time_s\":0.5,\"stop_reason\":\"max_epochs\",\"parameter_count\":1,\"device\":\"$device\",\"status\":\"finished\"}" > "$dir/summary.tmp"
        # ln creates summary.json atomically and only once: a second completed training of the run is reported.
        ln "$dir/summary.tmp" "$dir/summary.json" 2>/dev/null || echo "duplicate $dir" >> "$log"
        echo "finish $dir" >> "$log"
        """;

    public SweepTestKit()
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(Trainer, Script.Replace("\r", ""));
        File.WriteAllText(Log, "");
        // Attention takes any d_model, so that sweeps over small widths pass the CLI's check of every grid point.
        File.WriteAllText(Path.Combine(Dir, "base.yaml"), "model:\n  d_model: 128\n  sequence_mixer:\n    name: attention\nlearning_rate: 1e-3\nseed: 123\ndata:\n  input_seq_len: 64\n");
    }

    public string[] TrainerWords(int epochs = 3, double epochSeconds = 0.05, string crashMixer = "crash") =>
        ["bash", Trainer, "--log", Log, "--fake-epochs", epochs.ToString(), "--fake-epoch-seconds", epochSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--fake-crash", crashMixer];

    public TrainerCommand FakeTrainer(int epochs = 3, double epochSeconds = 0.05) => new(TrainerWords(epochs, epochSeconds));

    /// <summary>Writes a sweep file in the reference's W&amp;B format and returns its path.</summary>
    public string WriteSweep(string name, string parameters)
    {
        var path = Path.Combine(Dir, name + ".yaml");
        File.WriteAllText(path, $"""
            command: [python3, "${"{"}program{"}"}", --config_path, base.yaml, "${"{"}args{"}"}"]
            method: grid
            name: {name}
            parameters:
            {parameters}
            """);
        return path;
    }

    public string[] LogLines() => File.ReadAllLines(Log);

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>The CLI as a separate process (to be interrupted), with the fake trainer.</summary>
    public Process StartCli(string[] trainer, params string[] args) => StartCli(trainer, ownProcessGroup: false, args);

    /// <summary>With <paramref name="ownProcessGroup"/>, the CLI leads a process group of its own (setsid), so that a
    /// signal can go to it and its trainers at once, as a terminal's Ctrl-C does.</summary>
    public Process StartCli(string[] trainer, bool ownProcessGroup, params string[] args)
    {
        var start = new ProcessStartInfo(ownProcessGroup ? "setsid" : "dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Dir };
        if (ownProcessGroup) start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[TrainerCommand.EnvironmentVariable] = string.Join(" ", trainer);
        var p = Process.Start(start)!;
        var output = Path.Combine(Dir, $"cli-{p.Id}.log");
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (this) File.AppendAllText(output, e.Data + "\n"); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (this) File.AppendAllText(output, e.Data + "\n"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for {what}\n{diagnostics?.Invoke()}");
            Thread.Sleep(20);
        }
    }
}

/// <summary>A test class with a fresh <see cref="SweepTestKit"/> for every test, deleted after it.</summary>
public abstract class SweepKitTests : IDisposable
{
    protected SweepTestKit Kit { get; } = new();

    public void Dispose() => Kit.Dispose();
}
