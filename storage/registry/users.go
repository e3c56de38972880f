package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/cortexbench/cortexbench/submissions/record"
)

// More sentinel errors, wrapped with %w.
var (
	// ErrExists means a record with the same key is already there.
	ErrExists = errors.New("already exists")
	// ErrLimit means a quota (submissions per user per day) is used up.
	ErrLimit = errors.New("limit reached")
)

// The account records are the submissions domain's (package
// submissions/record, standard library only); the registry stores them.
type (
	// Role is what a user may do.
	Role = record.Role
	// User is an account.
	User = record.User
)

// The roles.
const (
	RoleSubmitter  = record.RoleSubmitter
	RoleMaintainer = record.RoleMaintainer
)

type userRow struct {
	Name      string `gorm:"primaryKey;size:64"`
	Role      string `gorm:"not null"`
	CreatedAt time.Time
}

func (userRow) TableName() string { return "users" }

// tokenRow stores an API token by the sha256 of its secret only: the
// secret itself is shown once, when created, and never stored.
type tokenRow struct {
	Hash      string `gorm:"primaryKey;size:64"`
	UserName  string `gorm:"not null;index"`
	CreatedAt time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

// CreateUser adds an account; ErrExists when the name is taken.
func (r *Registry) CreateUser(ctx context.Context, u User) error {
	if u.Name == "" || len(u.Name) > 64 {
		return fmt.Errorf("registry: create user: %w", invalid("name %q must be 1 to 64 characters", u.Name))
	}
	if !u.Role.Valid() {
		return fmt.Errorf("registry: create user %s: %w", u.Name, invalid("role %q must be %q or %q", u.Role, RoleSubmitter, RoleMaintainer))
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now().UTC()
	}
	err := r.db.WithContext(ctx).Create(&userRow{Name: u.Name, Role: string(u.Role), CreatedAt: u.CreatedAt.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("registry: create user %s: %w", u.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("registry: create user %s: %w", u.Name, err)
	}
	return nil
}

// GetUser returns the account with the given name.
func (r *Registry) GetUser(ctx context.Context, name string) (User, error) {
	var row userRow
	if err := r.db.WithContext(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return User{}, fmt.Errorf("registry: get user %s: %w", name, notFound(err))
	}
	return User{Name: row.Name, Role: Role(row.Role), CreatedAt: row.CreatedAt.UTC()}, nil
}

// AddToken records a token of user by the hex sha256 of its secret.
func (r *Registry) AddToken(ctx context.Context, user, tokenHash string) error {
	if !sha256Hex.MatchString(tokenHash) {
		return fmt.Errorf("registry: add token: %w", invalid("token hash must be 64 lowercase hex digits"))
	}
	if _, err := r.GetUser(ctx, user); err != nil {
		return fmt.Errorf("registry: add token: %w", err)
	}
	err := r.db.WithContext(ctx).Create(&tokenRow{Hash: tokenHash, UserName: user, CreatedAt: time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("registry: add token for %s: %w", user, err)
	}
	return nil
}

// UserByToken returns the owner of the token whose secret hashes to
// tokenHash; ErrNotFound when no token matches.
func (r *Registry) UserByToken(ctx context.Context, tokenHash string) (User, error) {
	var row tokenRow
	if err := r.db.WithContext(ctx).Where("hash = ?", tokenHash).Take(&row).Error; err != nil {
		return User{}, fmt.Errorf("registry: look up token: %w", notFound(err))
	}
	return r.GetUser(ctx, row.UserName)
}
