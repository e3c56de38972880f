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
		return tx.Migrator().AutoMigrate(&modelRow{}, &benchmarkRow{}, &scoreRow{})
	}},
	{2, "users, tokens, submissions, submission jobs, daily counts, withdrawals", func(tx *gorm.DB) error {
		return tx.Migrator().AutoMigrate(&userRow{}, &tokenRow{}, &submissionRow{}, &submissionJobRow{}, &submissionCountRow{}, &withdrawalRow{})
	}},
}

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
