package framework

import (
	"os"
	"testing"
)

// LogTail logs the last 8,000 bytes of the log file at path, what names
// whose it is.
func LogTail(t testing.TB, what, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s: %v", what, err)
		return
	}
	const most = 8000
	if len(data) > most {
		data = data[len(data)-most:]
	}
	t.Logf("%s logged (%s):\n%s", what, path, data)
}
