package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	Disabled  bool   `gorm:"not null;default:false"`
	CreatedAt time.Time
}

func (userRow) TableName() string { return "users" }

func (u userRow) user() User {
	return User{Name: u.Name, Role: Role(u.Role), Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}
}

// Token is an API token as listed (never its secret nor its hash).
type Token = record.Token

// tokenRow stores an API token by the sha256 of its secret only: the
// secret itself is shown once, when created, and never stored. TokenID is
// the public identifier that lists and revocations use.
type tokenRow struct {
	Hash       string `gorm:"primaryKey;size:64"`
	TokenID    string `gorm:"column:token_id;size:32;uniqueIndex:api_tokens_token_id"`
	UserName   string `gorm:"not null;index"`
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

func (t tokenRow) token() Token {
	return Token{ID: t.TokenID, User: t.UserName, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: utcOrZero(t.ExpiresAt), LastUsedAt: utcOrZero(t.LastUsedAt), RevokedAt: utcOrZero(t.RevokedAt)}
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// newTokenID returns a random public token identifier ("tok_" and 12 hex
// digits); it tells nothing about the secret.
func newTokenID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "tok_" + hex.EncodeToString(b[:]), nil
}

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
	err := r.db.WithContext(ctx).Create(&userRow{Name: u.Name, Role: string(u.Role), Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}).Error
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
	return row.user(), nil
}

// ListUsers returns every account, by name.
func (r *Registry) ListUsers(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := r.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list users: %w", err)
	}
	out := make([]User, len(rows))
	for i, row := range rows {
		out[i] = row.user()
	}
	return out, nil
}

// SetUserDisabled disables or enables an account; ErrNotFound when there
// is no such user.
func (r *Registry) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	res := r.db.WithContext(ctx).Model(&userRow{}).Where("name = ?", name).Update("disabled", disabled)
	if res.Error != nil {
		return fmt.Errorf("registry: set user %s disabled: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("registry: set user %s disabled: %w", name, ErrNotFound)
	}
	return nil
}

// SetUserRole changes an account's role; ErrNotFound when there is no
// such user.
func (r *Registry) SetUserRole(ctx context.Context, name string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("registry: set role of %s: %w", name, invalid("role %q must be %q or %q", role, RoleSubmitter, RoleMaintainer))
	}
	res := r.db.WithContext(ctx).Model(&userRow{}).Where("name = ?", name).Update("role", string(role))
	if res.Error != nil {
		return fmt.Errorf("registry: set role of %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("registry: set role of %s: %w", name, ErrNotFound)
	}
	return nil
}

// AddToken records a token of t.User by the hex sha256 of its secret and
// returns it as stored (with a new ID when t.ID is empty). t.ExpiresAt is
// required: every token expires.
func (r *Registry) AddToken(ctx context.Context, t Token, tokenHash string) (Token, error) {
	if !sha256Hex.MatchString(tokenHash) {
		return Token{}, fmt.Errorf("registry: add token: %w", invalid("token hash must be 64 lowercase hex digits"))
	}
	if t.ExpiresAt.IsZero() {
		return Token{}, fmt.Errorf("registry: add token: %w", invalid("the token needs an expiry"))
	}
	if _, err := r.GetUser(ctx, t.User); err != nil {
		return Token{}, fmt.Errorf("registry: add token: %w", err)
	}
	if t.ID == "" {
		id, err := newTokenID()
		if err != nil {
			return Token{}, fmt.Errorf("registry: add token: %w", err)
		}
		t.ID = id
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	row := tokenRow{Hash: tokenHash, TokenID: t.ID, UserName: t.User, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: timePtr(t.ExpiresAt), LastUsedAt: timePtr(t.LastUsedAt), RevokedAt: timePtr(t.RevokedAt)}
	if err := r.db.WithContext(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			err = ErrExists
		}
		return Token{}, fmt.Errorf("registry: add token for %s: %w", t.User, err)
	}
	return row.token(), nil
}

// TokenByHash returns the token whose secret hashes to tokenHash, whatever
// its state (the caller checks expiry and revocation); ErrNotFound when no
// token matches.
func (r *Registry) TokenByHash(ctx context.Context, tokenHash string) (Token, error) {
	var row tokenRow
	if err := r.db.WithContext(ctx).Where("hash = ?", tokenHash).Take(&row).Error; err != nil {
		return Token{}, fmt.Errorf("registry: look up token: %w", notFound(err))
	}
	return row.token(), nil
}

// ListTokens returns the tokens of user (every user's when empty), oldest
// first.
func (r *Registry) ListTokens(ctx context.Context, user string) ([]Token, error) {
	q := r.db.WithContext(ctx).Order("created_at, token_id")
	if user != "" {
		q = q.Where("user_name = ?", user)
	}
	var rows []tokenRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list tokens: %w", err)
	}
	out := make([]Token, len(rows))
	for i, row := range rows {
		out[i] = row.token()
	}
	return out, nil
}

// RevokeToken marks the token with the given ID revoked at the given time
// (a token already revoked keeps its first revocation time) and returns
// it; ErrNotFound when there is no such token.
func (r *Registry) RevokeToken(ctx context.Context, id string, at time.Time) (Token, error) {
	var row tokenRow
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&tokenRow{}).Where("token_id = ? AND revoked_at IS NULL", id).Update("revoked_at", at.UTC()).Error; err != nil {
			return err
		}
		return tx.Where("token_id = ?", id).Take(&row).Error
	})
	if err != nil {
		return Token{}, fmt.Errorf("registry: revoke token %s: %w", id, notFound(err))
	}
	return row.token(), nil
}

// TouchToken records that the token with the given ID was used at the
// given time.
func (r *Registry) TouchToken(ctx context.Context, id string, at time.Time) error {
	if err := r.db.WithContext(ctx).Model(&tokenRow{}).Where("token_id = ?", id).Update("last_used_at", at.UTC()).Error; err != nil {
		return fmt.Errorf("registry: touch token %s: %w", id, err)
	}
	return nil
}
