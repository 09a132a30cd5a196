using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Rebased.Experiments;

/// <summary>
/// The results store: one row per run of every sweep, in SQLite (default, one file) or PostgreSQL (shared by
/// workers on many machines). Every write is one transaction. A run is claimed atomically together with a lease
/// (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED); its worker renews the lease while the
/// run trains, and a run whose lease has expired (its worker died) is claimed again by the next worker. Results
/// are written only by the worker that holds the run, so a run finishes at most once. Times come from the
/// database's clock, so workers on machines with skewed clocks agree on lease expiry.
/// </summary>
public abstract class RunStore : IDisposable
{
    public const string DefaultSqlitePath = "runs/sweeps.db";

    /// <summary>Where the store lives, without a password.</summary>
    public abstract string Description { get; }

    /// <summary>Opens the store named by a URL: postgres://user:pass@host[:port]/db, sqlite:PATH, or a file path
    /// (null: runs/sweeps.db under the current folder). Creates the schema when missing; with mustExist, a SQLite
    /// file that does not exist is an error instead of a new store.</summary>
    public static RunStore Open(string? url, bool mustExist = false)
    {
        RunStore store;
        if (url is not null && (url.StartsWith("postgres://", StringComparison.Ordinal) || url.StartsWith("postgresql://", StringComparison.Ordinal)))
            store = new PostgresRunStore(url);
        else
        {
            var path = url switch
            {
                null or "" => DefaultSqlitePath,
                _ when url.StartsWith("sqlite://", StringComparison.Ordinal) => url["sqlite://".Length..],
                _ when url.StartsWith("sqlite:", StringComparison.Ordinal) => url["sqlite:".Length..],
                _ when url.Contains("://", StringComparison.Ordinal) => throw new UserError($"store URL '{url}': unknown scheme (use postgres://user:pass@host/db, sqlite:PATH or a file path)"),
                _ => url,
            };
            if (Directory.Exists(path)) throw new UserError($"--store {path} is a folder: give the store's file, e.g. {Path.Combine(path, "sweeps.db")}");
            if (mustExist && !File.Exists(path)) throw new UserError($"no results store at {path}: run `rebased sweep FILE` first or give --store");
            try
            {
                store = new SqliteRunStore(path);
            }
            catch (SqliteException e)
            {
                throw SqliteRunStore.Explain(Path.GetFullPath(path), e);
            }
        }
        try
        {
            store.CreateSchema();
            store.CheckUsable();
        }
        catch (DbException e)
        {
            store.Dispose();
            throw e is SqliteException sqlite ? SqliteRunStore.Explain(store.Description, sqlite)
                : new UserError($"cannot open the results store {store.Description}: {e.Message}");
        }
        return store;
    }

    /// <summary>Fails on opening, not in the middle of a sweep, when the store cannot be read through or written.</summary>
    protected virtual void CheckUsable() { }

    protected abstract DbConnection Connect();
    protected abstract DbTransaction BeginClaimTransaction(DbConnection connection);
    /// <summary>SQL for the database clock in unix milliseconds.</summary>
    protected abstract string NowMs { get; }
    protected abstract string ClaimSelectSuffix { get; }
    protected abstract string DoubleType { get; }
    protected abstract string LongType { get; }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    void CreateSchema()
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        Execute(c, tx, $"""
            CREATE TABLE IF NOT EXISTS runs (
                sweep TEXT NOT NULL,
                config_hash TEXT NOT NULL,
                position INTEGER NOT NULL,
                config_json TEXT NOT NULL,
                overrides_json TEXT NOT NULL,
                base_config_path TEXT NOT NULL,
                run_dir TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                worker TEXT,
                device TEXT,
                started_at_ms {LongType},
                finished_at_ms {LongType},
                lease_until_ms {LongType},
                best_accuracy {DoubleType},
                stop_reason TEXT,
                epochs_run INTEGER,
                wall_time_s {DoubleType},
                metrics_json TEXT,
                summary_json TEXT,
                error TEXT,
                PRIMARY KEY (sweep, config_hash)
            )
            """);
        Execute(c, tx, "CREATE INDEX IF NOT EXISTS runs_claim ON runs (status, sweep, position)");
        tx.Commit();
    }

    /// <summary>Adds the sweep's runs that the store does not hold yet (existing rows keep their state).
    /// Returns how many were added.</summary>
    public int Register(IEnumerable<RunRecord> runs)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        int added = 0;
        foreach (var r in runs)
        {
            added += Execute(c, tx, """
                INSERT INTO runs (sweep, config_hash, position, config_json, overrides_json, base_config_path, run_dir, status)
                VALUES (@sweep, @hash, @position, @config, @overrides, @base, @dir, 'pending')
                ON CONFLICT (sweep, config_hash) DO NOTHING
                """, ("sweep", r.Sweep), ("hash", r.ConfigHash), ("position", r.Position), ("config", r.ConfigJson),
                ("overrides", r.OverridesJson), ("base", r.BaseConfigPath), ("dir", r.RunDir));
        }
        tx.Commit();
        return added;
    }

    /// <summary>Adds finished runs made elsewhere (an exported runs file), or marks the store's unfinished rows of those
    /// runs finished with the imported outcome; runs the store already holds as finished keep theirs. Returns how many
    /// rows were added or completed.</summary>
    public int ImportFinished(IEnumerable<RunRecord> runs)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        int changed = 0;
        foreach (var r in runs)
        {
            changed += Execute(c, tx, $"""
                INSERT INTO runs (sweep, config_hash, position, config_json, overrides_json, base_config_path, run_dir, status, attempts,
                                  device, finished_at_ms, best_accuracy, stop_reason, epochs_run, wall_time_s, metrics_json, summary_json)
                VALUES (@sweep, @hash, @position, @config, @overrides, @base, @dir, 'finished', 1,
                        @device, {NowMs}, @best, @stop, @epochs, @wall, @metrics, @summary)
                ON CONFLICT (sweep, config_hash) DO UPDATE SET status = 'finished', worker = NULL, lease_until_ms = NULL,
                    device = excluded.device, finished_at_ms = excluded.finished_at_ms, best_accuracy = excluded.best_accuracy,
                    stop_reason = excluded.stop_reason, epochs_run = excluded.epochs_run, wall_time_s = excluded.wall_time_s,
                    metrics_json = excluded.metrics_json, summary_json = excluded.summary_json, error = NULL
                WHERE runs.status <> 'finished'
                """, ("sweep", r.Sweep), ("hash", r.ConfigHash), ("position", r.Position), ("config", r.ConfigJson),
                ("overrides", r.OverridesJson), ("base", r.BaseConfigPath), ("dir", r.RunDir), ("device", r.Device),
                ("best", r.BestAccuracy), ("stop", r.StopReason), ("epochs", r.EpochsRun), ("wall", r.WallTimeSeconds),
                ("metrics", r.MetricsJson), ("summary", r.SummaryJson));
        }
        tx.Commit();
        return changed;
    }

    /// <summary>Claims the first pending run (or a running one whose lease expired) for a worker, atomically.</summary>
    public RunRecord? Claim(string worker, string? device, TimeSpan lease, string? sweep = null)
    {
        using var c = Connect();
        using var tx = BeginClaimTransaction(c);
        var sweepFilter = sweep is null ? "" : "AND sweep = @sweep";
        string? claimedSweep = null, claimedHash = null;
        using (var select = Command(c, tx, $"""
            SELECT sweep, config_hash FROM runs
            WHERE (status = 'pending' OR (status = 'running' AND lease_until_ms < {NowMs})) {sweepFilter}
            ORDER BY position, sweep LIMIT 1 {ClaimSelectSuffix}
            """, sweep is null ? [] : [("sweep", sweep)]))
        using (var reader = select.ExecuteReader())
        {
            if (reader.Read()) { claimedSweep = reader.GetString(0); claimedHash = reader.GetString(1); }
        }
        if (claimedHash is null) { tx.Commit(); return null; }
        Execute(c, tx, $"""
            UPDATE runs SET status = 'running', worker = @worker, device = @device,
                attempts = attempts + 1, started_at_ms = COALESCE(started_at_ms, {NowMs}),
                lease_until_ms = {NowMs} + @lease, error = NULL
            WHERE sweep = @sweep AND config_hash = @hash
            """, ("worker", worker), ("device", device), ("lease", (long)lease.TotalMilliseconds), ("sweep", claimedSweep), ("hash", claimedHash));
        var run = Get(c, tx, claimedSweep!, claimedHash);
        tx.Commit();
        return run;
    }

    /// <summary>Renews a lease; false when the worker no longer holds the run (its lease expired and another
    /// worker claimed it, or it was reset).</summary>
    public bool Heartbeat(RunRecord run, string worker, TimeSpan lease) => Update(run, worker,
        $"lease_until_ms = {NowMs} + @lease", ("lease", (long)lease.TotalMilliseconds));

    public bool Finish(RunRecord run, string worker, RunOutcome outcome) => Update(run, worker, $"""
        status = 'finished', finished_at_ms = {NowMs}, lease_until_ms = NULL, best_accuracy = @best,
        stop_reason = @stop, epochs_run = @epochs, wall_time_s = @wall, metrics_json = @metrics, summary_json = @summary, error = NULL,
        device = COALESCE(device, @device)
        """, ("best", outcome.BestAccuracy), ("device", outcome.Device), ("stop", outcome.StopReason), ("epochs", outcome.EpochsRun),
        ("wall", outcome.WallTimeSeconds), ("metrics", outcome.MetricsJson), ("summary", outcome.SummaryJson));

    public bool Fail(RunRecord run, string worker, string error, string? metricsJson) => Update(run, worker, $"""
        status = 'failed', finished_at_ms = {NowMs}, lease_until_ms = NULL, error = @error,
        metrics_json = COALESCE(@metrics, metrics_json)
        """, ("error", error), ("metrics", metricsJson));

    /// <summary>Gives a held run back (status pending) so that it is resumed later, e.g. after Ctrl-C.</summary>
    public bool Release(RunRecord run, string worker) => Update(run, worker,
        "status = 'pending', worker = NULL, lease_until_ms = NULL");

    /// <summary>Gives back (status pending) the running runs whose lease has expired: their worker stopped renewing it,
    /// so it is gone (a killed sweep) or cut off. Returns how many.</summary>
    public int ReleaseExpired(string? sweep = null)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        var n = Execute(c, tx, $"""
            UPDATE runs SET status = 'pending', worker = NULL, lease_until_ms = NULL
            WHERE status = 'running' AND lease_until_ms < {NowMs} {(sweep is null ? "" : "AND sweep = @sweep")}
            """, sweep is null ? [] : [("sweep", sweep)]);
        tx.Commit();
        return n;
    }

    bool Update(RunRecord run, string worker, string assignments, params (string, object?)[] parameters)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        var n = Execute(c, tx, $"UPDATE runs SET {assignments} WHERE sweep = @sweep AND config_hash = @hash AND status = 'running' AND worker = @worker",
            [.. parameters, ("sweep", run.Sweep), ("hash", run.ConfigHash), ("worker", worker)]);
        tx.Commit();
        return n == 1;
    }

    /// <summary>Puts a sweep's failed runs back to pending.</summary>
    public int RetryFailed(string sweep)
    {
        using var c = Connect();
        using var tx = c.BeginTransaction();
        var n = Execute(c, tx, "UPDATE runs SET status = 'pending', worker = NULL, error = NULL WHERE sweep = @sweep AND status = 'failed'", ("sweep", sweep));
        tx.Commit();
        return n;
    }

    public IReadOnlyList<RunRecord> List(string? sweep = null)
    {
        using var c = Connect();
        using var cmd = Command(c, null, $"SELECT {Columns} FROM runs {(sweep is null ? "" : "WHERE sweep = @sweep")} ORDER BY sweep, position",
            sweep is null ? [] : [("sweep", sweep)]);
        using var reader = cmd.ExecuteReader();
        var list = new List<RunRecord>();
        while (reader.Read()) list.Add(Read(reader));
        return list;
    }

    /// <summary>Number of runs per status (all four statuses present, zero when none).</summary>
    public IReadOnlyDictionary<string, int> Counts(string? sweep = null)
    {
        using var c = Connect();
        using var cmd = Command(c, null, $"SELECT status, COUNT(*) FROM runs {(sweep is null ? "" : "WHERE sweep = @sweep")} GROUP BY status",
            sweep is null ? [] : [("sweep", sweep)]);
        using var reader = cmd.ExecuteReader();
        var counts = RunStatus.All.ToDictionary(s => s, _ => 0);
        while (reader.Read()) counts[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1));
        return counts;
    }

    /// <summary>Runs held by workers whose id does not start with the prefix (other processes or machines).</summary>
    public int CountRunningElsewhere(string workerPrefix, string? sweep = null)
    {
        using var c = Connect();
        using var cmd = Command(c, null, $"SELECT COUNT(*) FROM runs WHERE status = 'running' AND (worker IS NULL OR worker NOT LIKE @prefix) {(sweep is null ? "" : "AND sweep = @sweep")}",
            sweep is null ? [("prefix", workerPrefix + "%")] : [("prefix", workerPrefix + "%"), ("sweep", sweep)]);
        return Convert.ToInt32(cmd.ExecuteScalar());
    }

    public IReadOnlyList<string> Sweeps()
    {
        using var c = Connect();
        using var cmd = Command(c, null, "SELECT DISTINCT sweep FROM runs ORDER BY sweep", []);
        using var reader = cmd.ExecuteReader();
        var list = new List<string>();
        while (reader.Read()) list.Add(reader.GetString(0));
        return list;
    }

    RunRecord? Get(DbConnection c, DbTransaction? tx, string sweep, string hash)
    {
        using var cmd = Command(c, tx, $"SELECT {Columns} FROM runs WHERE sweep = @sweep AND config_hash = @hash", [("sweep", sweep), ("hash", hash)]);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    public RunRecord? Get(string sweep, string hash)
    {
        using var c = Connect();
        return Get(c, null, sweep, hash);
    }

    const string Columns = "sweep, config_hash, position, config_json, overrides_json, base_config_path, run_dir, status, attempts, worker, device, " +
        "started_at_ms, finished_at_ms, lease_until_ms, best_accuracy, stop_reason, epochs_run, wall_time_s, metrics_json, summary_json, error";

    static RunRecord Read(DbDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        long? L(int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i));
        double? D(int i) => r.IsDBNull(i) ? null : Convert.ToDouble(r.GetValue(i));
        DateTimeOffset? T(int i) => L(i) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        return new RunRecord
        {
            Sweep = r.GetString(0), ConfigHash = r.GetString(1), Position = (int)L(2)!.Value, ConfigJson = r.GetString(3),
            OverridesJson = r.GetString(4), BaseConfigPath = r.GetString(5), RunDir = r.GetString(6), Status = r.GetString(7),
            Attempts = (int)L(8)!.Value, Worker = S(9), Device = S(10), StartedAt = T(11), FinishedAt = T(12),
            LeaseUntil = T(13), BestAccuracy = D(14), StopReason = S(15), EpochsRun = (int?)L(16), WallTimeSeconds = D(17),
            MetricsJson = S(18), SummaryJson = S(19), Error = S(20),
        };
    }

    static int Execute(DbConnection c, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(c, tx, sql, parameters);
        return cmd.ExecuteNonQuery();
    }

    static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, (string Name, object? Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value ?? DBNull.Value;
            if (value is null) p.DbType = DbType.String;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }
}

public sealed class SqliteRunStore : RunStore
{
    readonly string _connectionString;
    readonly string _path;

    public SqliteRunStore(string path)
    {
        _path = Path.GetFullPath(path);
        if (Path.GetDirectoryName(_path) is { } dir) Directory.CreateDirectory(dir);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = _path, DefaultTimeout = 60, Pooling = true }.ToString();
        using var c = Connect();
        using var wal = c.CreateCommand();
        wal.CommandText = "PRAGMA journal_mode=WAL";
        wal.ExecuteNonQuery();
    }

    public override string Description => _path;
    protected override string NowMs => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    protected override string ClaimSelectSuffix => "";
    protected override string DoubleType => "REAL";
    protected override string LongType => "INTEGER";

    protected override DbConnection Connect()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA busy_timeout = 60000";
        cmd.ExecuteNonQuery();
        return c;
    }

    /// <summary>A damaged file fails its integrity check here rather than on the first page a query happens to read, and
    /// a file that cannot be written fails a write that changes nothing (a WHERE that matches no row still takes the
    /// write lock).</summary>
    protected override void CheckUsable()
    {
        using var c = Connect();
        using var check = c.CreateCommand();
        check.CommandText = "PRAGMA quick_check";
        var result = check.ExecuteScalar() as string;
        if (result != "ok") throw new SqliteException($"integrity check: {string.Join(' ', (result ?? "no answer").Split('\n', StringSplitOptions.TrimEntries))}", 11);
        using var write = c.CreateCommand();
        write.CommandText = "UPDATE runs SET status = status WHERE 0";
        write.ExecuteNonQuery();
    }

    /// <summary>SQLite's error about the store's file as a one-line message naming the file and what to do.</summary>
    public static UserError Explain(string path, SqliteException e)
    {
        const int ReadOnly = 8, Corrupt = 11, CannotOpen = 14, NotADatabase = 26;
        var message = e.SqliteErrorCode switch
        {
            NotADatabase => $"{path} is not a SQLite database, so not a results store: give --store a new file or an existing store",
            Corrupt => $"{path}: the results store is damaged ({e.Message}): restore it from a backup, or move it away with its -wal and -shm files to start a new store (the run directories keep their results)",
            ReadOnly => $"{path}: the results store is read-only: make the file and its folder writable (SQLite writes -wal and -shm files beside it), or give --store a writable copy",
            CannotOpen => $"{path}: cannot open the results store: check that its folder exists and is writable, or give --store another path",
            _ => $"{path}: results store error: {e.Message}",
        };
        return new UserError(message, e);
    }

    /// <summary>BEGIN IMMEDIATE: takes the write lock before reading, so two claimers never pick the same run.</summary>
    protected override DbTransaction BeginClaimTransaction(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

    public override void Dispose()
    {
        SqliteConnection.ClearAllPools();
        base.Dispose();
    }
}

public sealed class PostgresRunStore : RunStore
{
    readonly NpgsqlDataSource _dataSource;
    readonly string _description;

    public PostgresRunStore(string url)
    {
        var uri = new Uri(url);
        var database = uri.AbsolutePath.Trim('/');
        if (database.Length == 0) throw new UserError($"store URL '{Redact(url)}' names no database (postgres://user:pass@host/db)");
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(database),
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        _description = $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    static string Redact(string url) => System.Text.RegularExpressions.Regex.Replace(url, "//([^:/@]+):[^@]*@", "//$1:***@");

    public override string Description => _description;
    protected override string NowMs => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
    /// <summary>Row lock on the chosen run; rows another claimer holds are skipped, not waited for.</summary>
    protected override string ClaimSelectSuffix => "FOR UPDATE SKIP LOCKED";
    protected override string DoubleType => "DOUBLE PRECISION";
    protected override string LongType => "BIGINT";

    protected override DbConnection Connect() => _dataSource.OpenConnection();

    protected override DbTransaction BeginClaimTransaction(DbConnection connection) => connection.BeginTransaction(IsolationLevel.ReadCommitted);

    public override void Dispose()
    {
        _dataSource.Dispose();
        base.Dispose();
    }
}
