package notify

import (
	"strings"
	"testing"
)

func TestCheckService(t *testing.T) {
	for _, tt := range []struct {
		url, err string // err: a part of the message, "" for none
	}{
		{"ntfy://ntfy.sh/topic", ""},
		{"generic+https://hooks.example.com/x?token=s3cret", ""},
		{"telegram://token@telegram?chats=1", ""},
		{"nfty://ntfy.sh/s3cret", `no notification service "nfty"; shoutrrr has `},
		{"https://hooks.example.com/s3cret", `no notification service "https"`},
	} {
		err := CheckService(tt.url)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.url, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.url, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: the message shows the URL: %v", tt.url, err)
		}
	}
}
