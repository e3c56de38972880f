package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// users add/list/disable/enable/role and tokens create/list/revoke, with
// --json and plain tables; the service then refuses what the CLI revoked
// or disabled.
func TestUsersAndTokensCLI(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "registry.db")
	run := func(args ...string) (string, error) {
		t.Helper()
		out, stderr, err := runWith(ctx, t, nil, append(args, "--db", db)...)
		if err != nil {
			t.Logf("%v: %v (stderr %s)", args, err, stderr)
		}
		return out, err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	must("users", "add", "ada", "--role", "submitter")
	must("users", "add", "bob", "--role", "maintainer")

	// Tokens: default 90 days, --expires in days or as a duration; no "never".
	var tok struct {
		ID, User, Token string
		ExpiresAt       time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(must("tokens", "create", "--user", "ada", "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(tok.ExpiresAt) - 90*24*time.Hour; d > time.Minute || d < -time.Minute || !strings.HasPrefix(tok.ID, "tok_") {
		t.Errorf("default token %+v", tok)
	}
	var short struct {
		ID        string
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(must("tokens", "create", "--user", "ada", "--expires", "30d", "--json")), &short); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(short.ExpiresAt) - 30*24*time.Hour; d > time.Minute || d < -time.Minute {
		t.Errorf("30d token expires %v", short.ExpiresAt)
	}
	bobTok := strings.TrimSpace(must("tokens", "create", "--user", "bob", "--expires", "720h"))
	for _, bad := range []string{"never", "0d", "-1h", "400d", "soon"} {
		if _, err := run("tokens", "create", "--user", "ada", "--expires", bad); err == nil {
			t.Errorf("--expires %s accepted", bad)
		}
	}

	// tokens list: IDs and state, never a secret or a hash.
	listJSON := must("tokens", "list", "--json")
	var list []struct {
		ID, User, State string
		RevokedAt       *time.Time `json:"revoked_at"`
	}
	if err := json.Unmarshal([]byte(listJSON), &list); err != nil || len(list) != 3 {
		t.Fatalf("tokens list --json: %s, %v", listJSON, err)
	}
	table := must("tokens", "list")
	for _, secret := range []string{tok.Token, bobTok, submissions.HashToken(tok.Token), submissions.HashToken(bobTok)} {
		if strings.Contains(listJSON, secret) || strings.Contains(table, secret) {
			t.Fatal("tokens list shows a secret or its hash")
		}
	}
	if !strings.Contains(table, "ID") || !strings.Contains(table, tok.ID) || strings.Count(table, "active") != 3 {
		t.Errorf("tokens list table:\n%s", table)
	}
	if out := must("tokens", "list", "--user", "bob", "--json"); strings.Count(out, `"id"`) != 1 {
		t.Errorf("tokens list --user bob: %s", out)
	}
	if _, err := run("tokens", "list", "--user", "nobody"); err == nil {
		t.Error("tokens list of a missing user succeeded")
	}

	// Revoke.
	if out := must("tokens", "revoke", tok.ID); !strings.Contains(out, "revoked token "+tok.ID) {
		t.Errorf("revoke: %s", out)
	}
	if _, err := run("tokens", "revoke", "tok_nope"); err == nil {
		t.Error("revoking a missing token succeeded")
	}
	if err := json.Unmarshal([]byte(must("tokens", "list", "--user", "ada", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if (l.ID == tok.ID) != (l.State == "revoked" && l.RevokedAt != nil) {
			t.Errorf("after revoke: %+v", l)
		}
	}

	// Users: disable, enable, role, list.
	var u struct {
		Name, Role string
		Disabled   bool
	}
	if err := json.Unmarshal([]byte(must("users", "disable", "bob", "--json")), &u); err != nil || !u.Disabled {
		t.Fatalf("disable: %+v, %v", u, err)
	}
	if out := must("users", "list"); !strings.Contains(out, "NAME") || !strings.Contains(out, "disabled") || !strings.Contains(out, "ada") {
		t.Errorf("users list:\n%s", out)
	}
	svc, closeReg, err := (&registryFlags{db: &db, postgres: new(string)}).openService(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for token, what := range map[string]string{tok.Token: "revoked", bobTok: "disabled"} {
		if _, err := svc.Authenticate(ctx, token); !strings.Contains(err.Error(), what) {
			t.Errorf("%s token authenticates: %v", what, err)
		}
	}
	closeReg()
	must("users", "enable", "bob")
	if err := json.Unmarshal([]byte(must("users", "role", "ada", "maintainer", "--json")), &u); err != nil || u.Role != "maintainer" || u.Disabled {
		t.Fatalf("role: %+v, %v", u, err)
	}
	for _, bad := range [][]string{{"users", "role", "ada", "king"}, {"users", "role", "nobody", "submitter"}, {"users", "disable", "nobody"}, {"users", "role", "ada"}} {
		if _, err := run(bad...); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
	var users []struct {
		Name, Role string
		Disabled   bool
	}
	if err := json.Unmarshal([]byte(must("users", "list", "--json")), &users); err != nil || len(users) != 2 ||
		users[0].Name != "ada" || users[0].Role != string(registry.RoleMaintainer) || users[1].Disabled {
		t.Fatalf("users list --json: %+v, %v", users, err)
	}
	svc, closeReg, err = (&registryFlags{db: &db, postgres: new(string)}).openService(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeReg()
	if got, err := svc.Authenticate(ctx, bobTok); err != nil || got.Name != "bob" {
		t.Errorf("enabled bob: %+v, %v", got, err)
	}
}
