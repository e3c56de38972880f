package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/submissions"
)

const tokensUsage = `usage:
  cortexbench tokens create --user NAME [--expires 90d] [--json]   a new token, shown once (stored hashed)
  cortexbench tokens list [--user NAME] [--json]                   tokens with their state (never the secret)
  cortexbench tokens revoke ID [--json]                            revoke a token at once
every command takes [--db FILE | --postgres DSN]`

// runTokens is "cortexbench tokens create|list|revoke".
func runTokens(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, tokensUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return runTokensCreate(ctx, env, args[1:])
	case "list":
		return runTokensList(ctx, env, args[1:])
	case "revoke":
		return runTokensRevoke(ctx, env, args[1:])
	}
	fmt.Fprintln(env.Stderr, tokensUsage)
	return errUsage
}

// parseLifetime reads a token lifetime: a number of days ("30d") or a Go
// duration ("720h", "90m"). "never" is refused on purpose: every token
// expires (at most submissions.MaxTokenLifetime).
func parseLifetime(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--expires %q: use a positive number of days (30d) or a duration (720h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: use a positive number of days (30d) or a duration (720h); tokens cannot be made to never expire", s)
	}
	return d, nil
}

func runTokensCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokens create", "tokens create --user NAME [--expires 90d] [--json]")
	user := fs.String("user", "", "the `user` the token acts for")
	expires := fs.String("expires", "90d", "`lifetime`: days (30d) or a duration (720h); at most 366d; tokens always expire")
	asJSON := fs.Bool("json", false, "print the token as JSON")
	pf := addRegistryFlags(env, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, fmt.Sprintf("unexpected argument(s) %s: the user is given with --user NAME", strings.Join(fs.Args(), " ")))
	}
	if err := checkRequired(env, fs, "cortexbench tokens create --user ada",
		required{*user == "", "--user NAME (the user the token acts for; see 'cortexbench users list')"}); err != nil {
		return err
	}
	lifetime, err := parseLifetime(*expires)
	if err != nil {
		return err
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	token, t, err := svc.CreateToken(ctx, *user, lifetime)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]any{"id": t.ID, "user": *user, "token": token, "created_at": t.CreatedAt, "expires_at": t.ExpiresAt})
	}
	fmt.Fprintln(env.Stdout, token)
	fmt.Fprintf(env.Stderr, "token %s for %s, expires %s: shown once, store it now (only its hash is kept); use it with --token or $CORTEXBENCH_TOKEN\n",
		t.ID, *user, t.ExpiresAt.Format(time.RFC3339))
	return nil
}

// tokenJSON is a token as 'tokens list --json' prints it.
type tokenJSON struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	State      string     `json:"state"` // active, expired or revoked
}

func toTokenJSON(t submissions.Token, now time.Time) tokenJSON {
	j := tokenJSON{ID: t.ID, User: t.User, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, State: tokenState(t, now)}
	if !t.LastUsedAt.IsZero() {
		j.LastUsedAt = &t.LastUsedAt
	}
	if !t.RevokedAt.IsZero() {
		j.RevokedAt = &t.RevokedAt
	}
	return j
}

func tokenState(t submissions.Token, now time.Time) string {
	switch {
	case t.Revoked():
		return "revoked"
	case t.Expired(now):
		return "expired"
	}
	return "active"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func runTokensList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokens list", "tokens list [--user NAME] [--json]")
	user := fs.String("user", "", "only the tokens of `user`")
	asJSON := fs.Bool("json", false, "print the tokens as JSON")
	pf := addRegistryFlags(env, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	ts, err := svc.ListTokens(ctx, *user)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if *asJSON {
		out := make([]tokenJSON, len(ts))
		for i, t := range ts {
			out[i] = toTokenJSON(t, now)
		}
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tSTATE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, tokenState(t, now),
			fmtTime(t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
	}
	return tw.Flush()
}

func runTokensRevoke(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokens revoke", "tokens revoke ID [--json]")
	asJSON := fs.Bool("json", false, "print the revoked token as JSON")
	pf := addRegistryFlags(env, fs)
	id, rest := firstArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		id = ""
	}
	if id == "" {
		return usageError(env, fs, "give exactly one token ID (see 'cortexbench tokens list'), e.g. cortexbench tokens revoke ID")
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	t, err := svc.RevokeToken(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(toTokenJSON(t, time.Now().UTC()))
	}
	fmt.Fprintf(env.Stdout, "revoked token %s of %s (at %s)\n", t.ID, t.User, fmtTime(t.RevokedAt))
	return nil
}
