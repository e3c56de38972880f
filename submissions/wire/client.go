package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// The multipart form of POST /api/v1/submissions.
const (
	FieldFile          = "model" // the .onnx file
	FieldName          = "name"
	FieldVersion       = "version"
	FieldFamily        = "family"
	FieldTrainingData  = "training_data"
	FieldPreprocessing = "preprocessing" // models.ParseSpec text
	// FieldCommitments declares the layer per brain region:
	// "IT=L062.Conv,V4=L040.Add" or {"IT": "L062.Conv"} (issue 16).
	FieldCommitments = "commitments"
	// What the submitter says about the model (issue 17), all optional: a
	// paper's https URL, a description, a licence, a BibTeX entry.
	FieldPaper       = "paper"
	FieldDescription = "description"
	FieldLicense     = "license"
	FieldBibTeX      = "bibtex"
)

// Client calls the submissions API.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string
	HTTP    *http.Client // http.DefaultClient when nil
}

// APIError is an error answer from the server.
type APIError struct {
	Status int
	Body   ErrorBody
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d)", e.Body.Message, e.Status)
	for _, p := range e.Body.Problems {
		fmt.Fprintf(&b, "\n  - %s: %s", p.Field, p.Message)
	}
	return b.String()
}

// SubmitForm is what Submit sends besides the file.
type SubmitForm struct {
	Name, Version, Family, TrainingData, Preprocessing string
	Commitments                                        string // FieldCommitments; empty: none
	// Issue 17, all optional: a paper's https URL, a description, a
	// licence, a BibTeX entry.
	Paper, Description, License, BibTeX string
}

// Submit uploads a model file (streamed) with its metadata.
func (c *Client) Submit(ctx context.Context, filename string, file io.Reader, f SubmitForm) (Accepted, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, kv := range [][2]string{{FieldName, f.Name}, {FieldVersion, f.Version}, {FieldFamily, f.Family},
				{FieldTrainingData, f.TrainingData}, {FieldPreprocessing, f.Preprocessing}, {FieldCommitments, f.Commitments},
				{FieldPaper, f.Paper}, {FieldDescription, f.Description}, {FieldLicense, f.License}, {FieldBibTeX, f.BibTeX}} {
				if kv[1] == "" {
					continue
				}
				if err := mw.WriteField(kv[0], kv[1]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile(FieldFile, filename)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, file); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var out Accepted
	err := c.do(ctx, http.MethodPost, "/api/v1/submissions", mw.FormDataContentType(), pr, &out)
	pr.Close()
	return out, err
}

// Status returns a submission's status.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	var out Status
	err := c.do(ctx, http.MethodGet, "/api/v1/submissions/"+url.PathEscape(id), "", nil, &out)
	return out, err
}

// Mine lists the caller's submissions.
func (c *Client) Mine(ctx context.Context) (StatusList, error) {
	var out StatusList
	err := c.do(ctx, http.MethodGet, "/api/v1/submissions?mine", "", nil, &out)
	return out, err
}

// Withdraw withdraws a model (id: its id or a unique prefix of at least 8
// hex digits) with an optional reason; its queued and running jobs are
// cancelled.
func (c *Client) Withdraw(ctx context.Context, id, reason string) (Withdrawn, error) {
	body, err := json.Marshal(Withdrawal{Reason: reason})
	if err != nil {
		return Withdrawn{}, err
	}
	var out Withdrawn
	err = c.do(ctx, http.MethodPost, "/api/v1/models/"+url.PathEscape(id)+"/withdraw", "application/json", bytes.NewReader(body), &out)
	return out, err
}

// Edit changes a model's metadata (id: its id or a unique prefix): fields
// maps the PATCH body's field names ("name", "version", "family",
// "training_data", and whatever else the server takes, e.g. "paper") to
// their new values; the fields not given stay as they are. A field the
// server does not know is refused by it (400), nothing changed.
func (c *Client) Edit(ctx context.Context, id string, fields map[string]string) (Model, error) {
	body, err := json.Marshal(fields)
	if err != nil {
		return Model{}, err
	}
	var out Model
	err = c.do(ctx, http.MethodPatch, "/api/v1/models/"+url.PathEscape(id), "application/json", bytes.NewReader(body), &out)
	return out, err
}

// Cancel cancels a submission's queued and running jobs and returns its
// status (cancelled).
func (c *Client) Cancel(ctx context.Context, id string) (Status, error) {
	var out Status
	err := c.do(ctx, http.MethodPost, "/api/v1/submissions/"+url.PathEscape(id)+"/cancel", "", nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			e.Error.Message = strings.TrimSpace(string(data))
			if e.Error.Message == "" {
				e.Error.Message = resp.Status
			}
		}
		return &APIError{Status: resp.StatusCode, Body: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}
