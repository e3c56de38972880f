// Package scoring holds the results every part of cortexbench shares: a
// model's Score on one version of one benchmark, its per-layer profile
// (LayerScore), how its layer was chosen (Selection, typed), the Key
// results are stored under, ScorerVersion and the failure classes
// ErrBadModel and ErrInternal. It imports only the standard library, so
// the registry, the leaderboard, the job queue and the wire formats can use
// a Score without linking the runner, the benchmarks, the models or the
// linear algebra.
//
// The runner that produces scores is scoring/runner: a loop (open the
// benchmark → its metric's candidate layers → extraction → the metric →
// store) over one table of metrics. The numerical methods live in the
// other subpackages (rdm, rsa, ridge, ceiling, stats, reweight, varpart,
// fwrsa, decode, remix, timersa, ...), which know nothing of files, models
// or storage. scoring/scoringtest is the conformance suite every metric
// passes.
//
// # Adding a metric
//
// A metric is one type in one file of scoring/runner, one row in the
// runner's table, one row in the benchmarks' table of metric kinds, and a
// synthetic benchmark in the conformance suite. Plain RSA is the worked
// example:
//
//  1. The kind and its manifest settings, in package benchmarks: a
//     MetricKind constant (MetricRSA = "rsa" in benchmark.go), its section
//     in MetricSpec (RSA *RSASpec `yaml:"rsa"`, manifest.go), and one row of
//     metricKinds (metrics.go) that says where the section is (given), how
//     it is checked (check: rdms needed, distance and comparison known),
//     its defaults (settings: correlation distance, Spearman), whether it
//     is advanced (fits and chooses inside the benchmark; its own settings
//     enter the version: set it for a new kind) and cross-validated
//     (nothing chosen on splits), and its one-line description. A new
//     kind must not change the version of existing benchmarks: the
//     version hashes versionMetric (registry.go), which adds the advanced
//     fields only for advanced kinds.
//
//  2. The metric, in scoring/runner/metric_rsa.go: type rsaMetric
//     implements Metric. Its Candidates comes from an embedded policy
//     (allCandidates: Config.Candidates; ridgeCandidates; spacedLayers:
//     the benchmark's Metric.Layers evenly spaced). Score(ctx, env, model,
//     loaded, layers) extracts through the Env (env.modelRDMs, or
//     env.forEachGroup for raw features), chooses the layer on held-out
//     data (partSplits and rsaSelect → SelectHeldOut; a metric with its own
//     per-part score uses splitTable, one with whole rows fillTable; then
//     Table.Select1), bootstraps with env.bootstrap(seed, statistic), and
//     fills Raw, SE, Ceiling, CILow, CIHigh, Layer, Layers, Seed,
//     Selection (text for people) and SelectionData (typed: heldOut(...)
//     plus the metric's named Values, LayerValues and Sets). A metric that
//     can score a layer committed on a private benchmark's public partner
//     also implements Committer (rsaMetric.ScoreLayer); the runner's
//     partner path and region commitment (scoring/runner/commit.go: a
//     benchmark in commit mode scores the layer the model commits to its
//     region) use that interface and name no metric. Wrap errors
//     with %w, ErrBadModel for what the model causes and ErrInternal for
//     the rest.
//
//  3. The table row, in scoring/runner/metrics.go:
//     benchmarks.MetricRSA: rsaMetric{}. TestMetricTables checks that the
//     runner's table and benchmarks.MetricKinds name the same kinds, and
//     that exactly the non-advanced kinds are Committers.
//
//  4. The conformance suite: add the kind's synthetic benchmark to
//     world.loaded in scoring/scoringtest (for rsa: the subjects' RDMs of
//     the latent patterns plus noise). TestConformance runs the suite on
//     every metric of the table, so a metric without a synthetic
//     benchmark fails until it has one.
package scoring
