package lab

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPortTaken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, "clusters", "usa", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etcd.log", "ready to serve client requests\n")
	if portTaken(dir) {
		t.Error("a lab whose logs name no taken port is said to have lost one")
	}
	write("kube-apiserver.log", `E1130 run.go:72] "command failed" err="failed to create listener: failed to listen on 127.0.0.1:45021: listen tcp 127.0.0.1:45021: bind: address already in use"`+"\n")
	if !portTaken(dir) {
		t.Error("an API server that could not bind its port is not noticed")
	}
}
