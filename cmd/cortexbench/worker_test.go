package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// The heartbeat flags of 'worker' (issue 15, finding 4): their defaults
// are riverqueue.Config's, given values reach the queue configuration,
// and a bad pair is refused with a message naming the flag and the value
// to give, by 'worker' and 'serve' alike, before anything is opened.
func TestHeartbeatFlags(t *testing.T) {
	parse := func(t *testing.T, args ...string) (riverqueue.Config, error) {
		t.Helper()
		var errb bytes.Buffer
		env := &Env{Stdout: &errb, Stderr: &errb, Getenv: func(string) string { return "" }}
		fs := newFlagSet(env, "worker", "worker")
		qf := addQueueFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			t.Fatalf("%v: %s", err, errb.String())
		}
		return qf.config(env)
	}
	def := riverqueue.Config{}.WithDefaults()
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatInterval != def.HeartbeatInterval || c.HeartbeatTimeout != def.HeartbeatTimeout {
		t.Errorf("defaults: heartbeat every %v, timeout %v; want riverqueue's %v and %v", c.HeartbeatInterval, c.HeartbeatTimeout, def.HeartbeatInterval, def.HeartbeatTimeout)
	}
	c, err = parse(t, "--heartbeat-every", "2s", "--heartbeat-timeout", "9s")
	if err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatInterval != 2*time.Second || c.HeartbeatTimeout != 9*time.Second {
		t.Errorf("--heartbeat-every 2s --heartbeat-timeout 9s gave every %v, timeout %v", c.HeartbeatInterval, c.HeartbeatTimeout)
	}
	// Only the timeout: it must still exceed the default interval.
	if c, err = parse(t, "--heartbeat-timeout", "40s"); err != nil || c.HeartbeatTimeout != 40*time.Second || c.HeartbeatInterval != def.HeartbeatInterval {
		t.Errorf("--heartbeat-timeout 40s: %+v, %v", c, err)
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--heartbeat-every", "10s", "--heartbeat-timeout", "15s"},
			"--heartbeat-timeout 15s must be at least twice --heartbeat-every 10s (give --heartbeat-timeout 20s or more)"},
		{[]string{"--heartbeat-timeout", "20s"}, // the default interval is 15 s
			"--heartbeat-timeout 20s must be at least twice --heartbeat-every 15s"},
		{[]string{"--heartbeat-every", "5s", "--heartbeat-timeout", "5s"}, "must be at least twice --heartbeat-every 5s"},
		{[]string{"--heartbeat-every", "0s"}, "--heartbeat-every 0s is too short: give at least 100ms"},
		{[]string{"--heartbeat-every", "-1s"}, "--heartbeat-every -1s is too short"},
		{[]string{"--heartbeat-every", "10ms", "--heartbeat-timeout", "1s"}, "--heartbeat-every 10ms is too short"},
	}
	for _, cmd := range []string{"worker", "serve"} {
		for _, b := range bad {
			// The flags are refused before the store is opened (or
			// created); bounded in case they were not refused at all.
			store := filepath.Join(t.TempDir(), "objects")
			args := append([]string{cmd, "--store", store, "--addr", "127.0.0.1:0"}, b.args...)
			if cmd == "worker" {
				args = append([]string{cmd, "--store", store}, b.args...)
			}
			var out bytes.Buffer
			env := &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := Run(ctx, env, args)
			cancel()
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("cortexbench %s: error %v (output %q), want one containing %q", strings.Join(args, " "), err, out.String(), b.want)
			}
			if _, err := os.Stat(store); err == nil {
				t.Errorf("cortexbench %s created the store before refusing its flags", strings.Join(args, " "))
			}
		}
	}
	if _, stderr, err := benchRun(t, "worker", "--heartbeat-every", "soon"); err != errUsage || !strings.Contains(stderr, "heartbeat-every") {
		t.Errorf("--heartbeat-every soon: %v, stderr %q", err, stderr)
	}
}
