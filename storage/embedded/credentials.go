package embedded

import (
	"bufio"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CredentialsFileName is the file, inside the store folder but outside
// every bucket (bucket names cannot start with '.'), that holds the
// endpoint's generated credentials. It is an AWS shared-credentials file
// with one [default] profile, written once with mode 0600 and reused on
// every later start, so any S3 client can use it directly:
//
//	AWS_SHARED_CREDENTIALS_FILE=.cortexbench/objects/.s3-credentials \
//	  aws --endpoint-url http://127.0.0.1:PORT s3 ls s3://cortexbench/
const CredentialsFileName = ".s3-credentials"

// CredentialsPath returns the credentials file of the store folder dir.
func CredentialsPath(dir string) string { return filepath.Join(dir, CredentialsFileName) }

// loadOrCreateCredentials reads the credentials in path, or generates new
// ones with crypto/rand and writes them there (mode 0600) when the file
// does not exist. Two processes starting at once agree: the file is
// written aside and linked into place, which fails if another got there
// first, and the loser reads the winner's file.
func loadOrCreateCredentials(path string) (accessKey, secretKey string, err error) {
	ak, sk, err := readCredentials(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ak, sk, err
	}
	ak, sk, err = newCredentials()
	if err != nil {
		return "", "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), CredentialsFileName+".tmp-*")
	if err != nil {
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; say so explicitly all the same.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	content := "# Credentials of cortexbench's embedded S3 endpoint, generated on its first start.\n" +
		"# Anyone holding them can read and change every object of this store: keep this file private.\n" +
		"[default]\n" +
		"aws_access_key_id = " + ak + "\n" +
		"aws_secret_access_key = " + sk + "\n"
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readCredentials(path)
		}
		return "", "", fmt.Errorf("write credentials: %w", err)
	}
	return ak, sk, nil
}

// readCredentials parses the [default] profile of an AWS shared-credentials
// file. It refuses a file that others than its owner may read.
func readCredentials(path string) (accessKey, secretKey string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", "", fmt.Errorf("credentials file %s has mode %04o: others may read it; run chmod 600 on it", path, st.Mode().Perm())
	}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.TrimSpace(strings.Trim(line, "[]"))
		case section == "default":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				accessKey = strings.TrimSpace(v)
			case "aws_secret_access_key":
				secretKey = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read credentials %s: %w", path, err)
	}
	if accessKey == "" || secretKey == "" {
		return "", "", fmt.Errorf("credentials file %s: no aws_access_key_id and aws_secret_access_key in its [default] profile", path)
	}
	return accessKey, secretKey, nil
}

// newCredentials returns a random access key (20 characters, like AWS's)
// and secret key (40 characters, 240 random bits).
func newCredentials() (accessKey, secretKey string, err error) {
	ab := make([]byte, 12)
	sb := make([]byte, 30)
	if _, err := rand.Read(ab); err != nil {
		return "", "", fmt.Errorf("generate credentials: %w", err)
	}
	if _, err := rand.Read(sb); err != nil {
		return "", "", fmt.Errorf("generate credentials: %w", err)
	}
	accessKey = "CB" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(ab)[:18]
	return accessKey, base64.RawURLEncoding.EncodeToString(sb), nil
}
