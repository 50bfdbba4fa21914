package pmq

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Each backend's own name limit: NameMax (255) on the
// kernel, ShmNameMax (251) on shm, both boundaries on both backends, and a
// refusal that names the backend's limit.
func TestNameMaxPerBackend(t *testing.T) {
	if NameMax != 255 || ShmNameMax != 251 {
		t.Fatalf("NameMax %d, ShmNameMax %d; want 255, 251", NameMax, ShmNameMax)
	}
	cases := []struct {
		b       Backend
		length  int
		refusal string // "" = accepted
	}{
		{BackendKernel, 252, ""},
		{BackendKernel, 255, ""},
		{BackendKernel, 256, "the limit is 255"},
		{BackendShm, 251, ""},
		{BackendShm, 252, "the limit is 251 on the shared-memory backend"},
		{BackendShm, 256, "the limit is 251 on the shared-memory backend"},
	}
	for i, c := range cases {
		prefix := fmt.Sprintf("/%slen-%d-", namePrefix, nameSeq.Add(1))
		name := prefix + strings.Repeat("n", c.length+1-len(prefix))
		q, err := Create(name, Exclusive(), WithBackend(c.b), WithCapacity(1), WithMessageSize(16))
		if c.refusal == "" {
			if err != nil {
				t.Errorf("case %d (%d bytes): %v", i, c.length, err)
				continue
			}
			_ = q.Close()
			if err := UnlinkBackend(name, c.b); err != nil {
				t.Errorf("case %d: unlink: %v", i, err)
			}
			continue
		}
		if err == nil {
			_ = q.Close()
			_ = UnlinkBackend(name, c.b)
			t.Errorf("case %d (%d bytes): accepted", i, c.length)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.refusal) {
			t.Errorf("case %d (%d bytes): %v; want ErrInvalid naming %q", i, c.length, err, c.refusal)
		}
	}
}
