package registry

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one numbered, forward-only schema step. Steps run in order,
// each in its own transaction, and are recorded in schema_migrations; a
// recorded step never runs again.
//
// Never edit a step that has shipped: add a new one. Step 1 calls
// AutoMigrate on the current row types, so when a row type changes, the
// change goes in a new step (AutoMigrate on the new type, or explicit SQL
// for renames and drops), and step 1 must keep producing what it always
// did on an empty database: copy the old struct into the step if needed.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

var migrations = []migration{
	{1, "models, benchmarks and scores", func(tx *gorm.DB) error {
		return tx.Migrator().AutoMigrate(&modelRowV1{}, &benchmarkRow{}, &scoreRowV1{})
	}},
	{2, "users, tokens, submissions, submission jobs, daily counts, withdrawals", func(tx *gorm.DB) error {
		return tx.Migrator().AutoMigrate(&userRowV2{}, &tokenRowV2{}, &submissionRow{}, &submissionJobRowV2{}, &submissionCountRow{}, &withdrawalRow{})
	}},
	{3, "scores: typed selection (selection_data JSON)", func(tx *gorm.DB) error {
		return tx.Migrator().AddColumn(&scoreRow{}, "SelectionData")
	}},
	{4, "users: disabled; api_tokens: token_id, expires_at, last_used_at, revoked_at", migrateTokenLifecycle},
	{5, "models: file (sha256 of the ONNX file; hash is the entry id)", migrateModelFile},
	{6, "submission_jobs: heartbeat_ms (a running attempt's last sign of life)", func(tx *gorm.DB) error {
		return tx.Migrator().AddColumn(&submissionJobRow{}, "HeartbeatMS")
	}},
	{7, "scores: conventions (scoring.Conventions JSON: ceiling bound, transform, features, …)", func(tx *gorm.DB) error {
		return tx.Migrator().AddColumn(&scoreRow{}, "Conventions")
	}},
	{8, "models: paper, description, license, bib_tex (what the submitter says about the model, issue 17)", func(tx *gorm.DB) error {
		for _, f := range []string{"Paper", "Description", "License", "BibTeX"} {
			if err := tx.Migrator().AddColumn(&modelRow{}, f); err != nil {
				return err
			}
		}
		return nil
	}},
}

// migrateModelFile is migration 5: a model row is an entry (ONNX file,
// preprocessing spec) whose hash is models.EntryID; the new file column
// holds the file's sha256. Rows made before it were keyed by the file's
// sha256, so their file is their hash (legacy entries keep their hash and
// their scores).
func migrateModelFile(tx *gorm.DB) error {
	m := tx.Migrator()
	if err := m.AddColumn(&modelRow{}, "File"); err != nil {
		return err
	}
	if err := tx.Model(&modelRow{}).Where("file = ''").Update("file", gorm.Expr("hash")).Error; err != nil {
		return err
	}
	return m.CreateIndex(&modelRow{}, "File")
}

// submissionJobRowV2 is submissionJobRow as migration 2 created it
// (before heartbeat_ms).
type submissionJobRowV2 struct {
	SubmissionID     string `gorm:"primaryKey;size:64"`
	BenchmarkID      string `gorm:"primaryKey"`
	Position         int    `gorm:"not null"`
	BenchmarkVersion string `gorm:"not null"`
	State            string `gorm:"not null"`
	Stage            string `gorm:"not null;default:''"`
	FailureClass     string `gorm:"not null;default:''"`
	Message          string `gorm:"type:text"`
	Attempt          int    `gorm:"not null;default:0"`
	Lost             int    `gorm:"not null;default:0"`
	UpdatedAt        time.Time
}

func (submissionJobRowV2) TableName() string { return "submission_jobs" }

// modelRowV1 is modelRow as migration 1 created it (before file).
type modelRowV1 struct {
	Hash          string `gorm:"primaryKey;size:64"`
	Name          string `gorm:"not null;index"`
	Version       string `gorm:"not null;default:''"`
	Family        string `gorm:"not null;default:'';index"`
	TrainingData  string `gorm:"not null;default:''"`
	Params        int64  `gorm:"not null;default:0"`
	Preprocessing string `gorm:"type:text"` // JSON
	Owner         string `gorm:"not null;default:'';index"`
	CreatedAt     time.Time
}

func (modelRowV1) TableName() string { return "models" }

// LegacyTokenLifetime is the expiry migration 4 gives the tokens made
// before tokens expired: they expire this long after the migration runs.
const LegacyTokenLifetime = 90 * 24 * time.Hour

// migrateTokenLifecycle is migration 4: users may be disabled; tokens get
// a public ID, an expiry, a last use and a revocation time. Existing users
// stay enabled; existing tokens get a random ID and expire
// LegacyTokenLifetime after the migration.
func migrateTokenLifecycle(tx *gorm.DB) error {
	m := tx.Migrator()
	if err := m.AddColumn(&userRow{}, "Disabled"); err != nil {
		return err
	}
	for _, f := range []string{"TokenID", "ExpiresAt", "LastUsedAt", "RevokedAt"} {
		if err := m.AddColumn(&tokenRow{}, f); err != nil {
			return err
		}
	}
	var hashes []string
	if err := tx.Model(&tokenRow{}).Order("hash").Pluck("hash", &hashes).Error; err != nil {
		return err
	}
	for _, h := range hashes {
		id, err := newTokenID()
		if err != nil {
			return err
		}
		if err := tx.Model(&tokenRow{}).Where("hash = ?", h).Update("token_id", id).Error; err != nil {
			return err
		}
	}
	expires := time.Now().UTC().Add(LegacyTokenLifetime)
	if err := tx.Model(&tokenRow{}).Where("expires_at IS NULL").Update("expires_at", expires).Error; err != nil {
		return err
	}
	return m.CreateIndex(&tokenRow{}, "api_tokens_token_id")
}

// userRowV2 and tokenRowV2 are userRow and tokenRow as migration 2
// created them (before migration 4).
type userRowV2 struct {
	Name      string `gorm:"primaryKey;size:64"`
	Role      string `gorm:"not null"`
	CreatedAt time.Time
}

func (userRowV2) TableName() string { return "users" }

type tokenRowV2 struct {
	Hash      string `gorm:"primaryKey;size:64"`
	UserName  string `gorm:"not null;index"`
	CreatedAt time.Time
}

func (tokenRowV2) TableName() string { return "api_tokens" }

// scoreRowV1 is scoreRow as migration 1 created it (before
// selection_data).
type scoreRowV1 struct {
	ID               int64  `gorm:"primaryKey;autoIncrement"`
	ModelHash        string `gorm:"not null;size:64;uniqueIndex:scores_key,priority:1"`
	ModelName        string `gorm:"not null;default:''"`
	BenchmarkID      string `gorm:"not null;index"`
	BenchmarkVersion string `gorm:"not null;uniqueIndex:scores_key,priority:2"`
	ScorerVersion    string `gorm:"not null;uniqueIndex:scores_key,priority:3"`

	Raw     *float64
	Ceiling *float64
	Ceiled  *float64
	SE      *float64 `gorm:"column:se"`
	CILow   *float64 `gorm:"column:ci_low"`
	CIHigh  *float64 `gorm:"column:ci_high"`

	Layer      string `gorm:"not null;default:''"`
	Selection  string `gorm:"not null;default:''"`
	Candidates string `gorm:"not null;default:''"`
	Layers     string `gorm:"type:text"`
	Seed       int64

	ElapsedNanos int64
	PeakRSSBytes int64 `gorm:"column:peak_rss_bytes"`
	CreatedAt    time.Time
}

func (scoreRowV1) TableName() string { return "scores" }

type schemaMigration struct {
	Version   int `gorm:"primaryKey;autoIncrement:false"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// migrationLockID serialises migrations of concurrent processes on
// PostgreSQL (pg_advisory_xact_lock); SQLite's write lock does it there.
const migrationLockID = 0x636f72746578 // "cortex"

func (r *Registry) migrate(ctx context.Context) error {
	db := r.db.WithContext(ctx)
	if err := db.Migrator().AutoMigrate(&schemaMigration{}); err != nil {
		return fmt.Errorf("registry: create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		err := db.Transaction(func(tx *gorm.DB) error {
			if r.postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
					return err
				}
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("registry: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (r *Registry) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := r.db.WithContext(ctx).Model(&schemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("registry: read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
