package plugin

import (
	"strings"
	"testing"
)

func TestMemberContexts(t *testing.T) {
	members := []string{"usa", "jpn"}
	h := &hostFlags{memberContexts: map[string]string{"jpn": "tokyo-admin"}}
	if err := h.checkMemberContexts(members); err != nil {
		t.Errorf("a member's context: %v", err)
	}
	if got := h.memberContext("jpn"); got != "tokyo-admin" {
		t.Errorf("jpn's context is %q, want tokyo-admin", got)
	}
	if got := h.memberContext("usa"); got != "usa" {
		t.Errorf("usa's context is %q, want its own name", got)
	}
	h.memberContexts["osaka"] = "kansai"
	err := h.checkMemberContexts(members)
	if err == nil || !strings.Contains(err.Error(), `"osaka"`) || !strings.Contains(err.Error(), "its members are jpn, usa") {
		t.Errorf("a context for no member: %v, want an error naming osaka and the members", err)
	}
}
