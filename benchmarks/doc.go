// Package benchmarks is the registry of brain benchmarks: recorded data
// (RDM sets, response matrices, multi-session response sets) paired with
// the images that were shown, a metric, a noise ceiling, a layer-selection
// policy and metadata. A maintainer adds a benchmark with a YAML manifest
// and data files alone (see Manifest); the built-in catalogue
// (catalogue/*.yaml) is made of such manifests too.
//
// # Import
//
// Registry.Add parses the manifest strictly, reads every file through an
// os.Root rooted at the manifest's folder (so no path, symlink included,
// can leave it), validates shapes and contents (RDMs square, symmetric,
// zero diagonal, finite — or, for split-half similarity and cross-validated
// dissimilarity matrices named by rdms.form, square, finite and
// asymmetric; one decodable JPEG/PNG image per data column;
// one label per image), computes the noise ceiling, copies every file into
// the object store under its sha256 and writes the catalogue entry last.
// Without an entry a benchmark does not exist, so a failed import leaves
// nothing visible behind (content-addressed blobs it may have written are
// harmless and are reused by the next attempt).
//
// Every blob is checked against its sha256 (its key) as it is read back:
// a corrupt stored copy is an error naming the blob (objstore.ErrCorrupt),
// never data. Adding the benchmark again reads its stored blobs back and
// replaces corrupt ones (AddResult.Repaired).
//
// A benchmark's Version is a hash of its data (file contents, stimulus
// names and labels, shapes) and of its metric, ceiling and split settings:
// any change yields a new version, and scores stay attached to the version
// they were computed on. Adding the same data again is a no-op; adding
// different data under an existing identifier is refused with ErrExists
// unless AddOptions.NewVersion is set.
//
// # Public and private benchmarks
//
// A private benchmark is used for scoring only. What may be served about
// any benchmark is a Summary, a struct of scalars and strings that has no
// field able to carry data, stimulus names or per-subject values. A
// private benchmark names a public Partner on which the runner selects the
// layer it then scores on the private data (Brain-Score's public/private
// design); a public benchmark selects layers on seeded stimulus splits
// (Splits). Region commitment (issue 16) generalises the partner: a
// committed benchmark (Conventions.Selection "commit", the default for
// rsa and ridge benchmarks under 50 stimuli) scores the layer a model
// commits to its region, chosen on the region's commit benchmarks
// (Conventions.CommitOn, from the manifest or catalogue/regions.yaml,
// resolved and checked at import).
//
// # Ceilings
//
//   - rsa-nili (Nili et al. 2014): upper bound = mean over subjects of
//     compare(subject, mean of all subjects), lower bound = the same with
//     the mean of the other subjects; reported as correlations and as R²
//     (the Algonauts convention). Needs at least two subjects.
//   - split-half: per-target split-half reliability over repeats,
//     Spearman-Brown corrected, median over targets, in units of Pearson r.
//     The repeats come from the dataset (responses.repeats, or the repeats
//     of the session the ceiling names).
//   - none: with a reason, e.g. a group RDM, which has no subjects to
//     compare.
//
// With rsa-nili the import also computes the leave-one-subject-out
// consistency (≥ 2 subjects) and, for asymmetric input, the halves
// ceiling; CeilingPolicy.Bound says which one scores divide by
// (Ceiling.Value), and Summary labels it.
//
// Kriegeskorte 2008 hIT comes as subjects × sessions × 92 × 92. The
// built-in benchmark scores a model against each subject's session-mean RDM
// (the RDM Kriegeskorte et al. analyse), so its ceiling is computed from
// the same session means: a ceiling from single sessions would bound a
// different, noisier target than the one scored.
//
// # Aggregation
//
// A benchmark names a Parent (e.g. "IT"). A parent's score is the mean of
// its children's ceiled scores and is reported only when every child has
// a finite score; otherwise it is marked incomplete with the list of
// missing children (Aggregate), so a model never gains rank by missing a
// hard benchmark.
//
// # Loading for scoring
//
// Registry.Open returns a Loaded benchmark: the settings, the ceiling, the
// stimuli (names, labels, and each image by index) and the data, RDM
// vectors per subject (upper triangles) or one response matrix per session
// with that session's stimuli.
package benchmarks
