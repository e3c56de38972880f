package embedded

import (
	"bytes"
	"log"
)

// superfluous is the line net/http logs when a handler writes a status
// twice. gofakes3 does so when a copy fails after its headers went out
// (a client that hung up, issue 17: the server log was flooded with it);
// the answer is already on its way and nothing can be done about it.
var superfluous = []byte("superfluous response.WriteHeader")

// filteredLog is the http.Server's ErrorLog: every line goes to the
// standard logger's output (where http.Server logs by default) except
// the superfluous-WriteHeader ones.
type filteredLog struct{}

func (filteredLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, superfluous) {
		return len(p), nil
	}
	return log.Writer().Write(p)
}

// errorLog returns the logger given as the embedded server's ErrorLog.
func errorLog() *log.Logger { return log.New(filteredLog{}, "", log.LstdFlags) }
