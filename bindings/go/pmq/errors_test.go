package pmq

import (
	"errors"
	"strings"
	"testing"
)

// Every status the linked libpmq defines, 0..pmq_status_last() asked at run
// time, is known to this package: it has its own sentinel (not ErrUnknown),
// no two statuses share one, an *Error of the status matches that sentinel
// and no other, and its name, text and busy-ness are libpmq's. A status
// appended to pmq.h without a Status constant and a sentinels entry here
// fails this test. (Named TestErrors... so that go-static runs it against the
// static library too.)
func TestErrorsCoverEveryStatus(t *testing.T) {
	last := lastStatus()
	if last < StatusNotSupported {
		t.Fatalf("pmq_status_last() = %d, below StatusNotSupported: values are only appended", last)
	}

	if StatusOK.Sentinel() != nil || StatusOK.String() != "PMQ_STATUS_OK" || StatusOK.isBusy() {
		t.Errorf("StatusOK: sentinel %v, name %s, busy %v", StatusOK.Sentinel(), StatusOK, StatusOK.isBusy())
	}

	statusOf := map[error]Status{}
	for s := StatusOK + 1; s <= last; s++ {
		name := s.String()
		if name == "PMQ_STATUS_UNKNOWN" || !strings.HasPrefix(name, "PMQ_STATUS_") {
			t.Errorf("status %d: libpmq's name is %q (a gap in its statuses?)", s, name)
			continue
		}
		sentinel := s.Sentinel()
		if sentinel == nil || sentinel == ErrUnknown {
			t.Errorf("status %d (%s): Sentinel() = %v; this package does not know the status: "+
				"add a Status constant, a sentinel error and its sentinels entry", s, name, sentinel)
			continue
		}
		if other, dup := statusOf[sentinel]; dup {
			t.Errorf("status %d (%s) has the sentinel of %s: %v", s, name, other, sentinel)
		}
		statusOf[sentinel] = s
		if msg := sentinel.Error(); !strings.HasPrefix(msg, "pmq: ") || len(msg) <= len("pmq: ") {
			t.Errorf("%s: sentinel text %q", name, msg)
		}
		if text := s.Text(); text == "" || text == "unknown status" {
			t.Errorf("%s: Text() = %q", name, text)
		}

		err := goError("op", "/q", s, "")
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: %v does not match its sentinel %v", name, err, sentinel)
		}
		if errors.Is(err, ErrUnknown) {
			t.Errorf("%s: %v matches ErrUnknown", name, err)
		}
		if want := "pmq: op /q: " + s.Text() + " (" + name + ")"; err.Error() != want {
			t.Errorf("%s: Error() = %q, want %q", name, err.Error(), want)
		}
		if IsBusy(err) != s.isBusy() || IsBusy(sentinel) != s.isBusy() {
			t.Errorf("%s: IsBusy = %v (sentinel: %v), pmq_status_is_busy = %v",
				name, IsBusy(err), IsBusy(sentinel), s.isBusy())
		}
	}

	// One-to-one: each sentinel matches the *Error of its own status only,
	// and the table holds nothing but the statuses libpmq defines.
	for sentinel, s := range statusOf {
		for other := range statusOf {
			if other != sentinel && errors.Is(goError("op", "", s, ""), other) {
				t.Errorf("%s also matches %v", s, other)
			}
		}
	}
	for s, sentinel := range sentinels {
		if s <= StatusOK || s > last {
			t.Errorf("sentinels has status %d (%v), which libpmq does not define", s, sentinel)
		}
	}
	if len(sentinels) != len(statusOf) {
		t.Errorf("sentinels has %d entries, libpmq defines %d failure statuses", len(sentinels), len(statusOf))
	}

	// The first value above the library's last (and a far one) is unknown:
	// ErrUnknown, libpmq's "unknown" name and text, not busy, no crash.
	for _, s := range []Status{last + 1, 9999, -1} {
		err := goError("op", "", s, "")
		if s.Sentinel() != ErrUnknown || !errors.Is(err, ErrUnknown) {
			t.Errorf("status %d: Sentinel() = %v", s, s.Sentinel())
		}
		if s.String() != "PMQ_STATUS_UNKNOWN" || s.Text() != "unknown status" {
			t.Errorf("status %d: name %q, text %q", s, s.String(), s.Text())
		}
		if IsBusy(err) || s.isBusy() {
			t.Errorf("status %d counts as busy", s)
		}
		if want := "pmq: op: unknown status (PMQ_STATUS_UNKNOWN)"; err.Error() != want {
			t.Errorf("status %d: Error() = %q, want %q", s, err.Error(), want)
		}
		for sentinel := range statusOf {
			if errors.Is(err, sentinel) {
				t.Errorf("status %d matches %v", s, sentinel)
			}
		}
	}
}
