package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// AdminClient reads one path from an Envoy admin API.
type AdminClient interface {
	Get(ctx context.Context, path string) ([]byte, error)
}

// Caps bound every read from a proxy, so one misbehaving sidecar cannot stall or exhaust a run.
type Caps struct {
	MaxBytes int64         // per admin response
	Timeout  time.Duration // per admin request
}

// DefaultCaps fit a sidecar with a few thousand external hosts (a 1,000-host dump is ~3 MB).
var DefaultCaps = Caps{MaxBytes: 64 << 20, Timeout: 30 * time.Second}

// ErrCapExceeded marks a response larger than Caps.MaxBytes.
var ErrCapExceeded = errors.New("size cap exceeded")

// errNoAnswer and errIncomplete mark reads the time cap cut: no response, or a response cut short.
var (
	errNoAnswer   = errors.New("no answer")
	errIncomplete = errors.New("not complete")
)

// errTunnelLost marks a read cut because its port-forward ended (Tunnel.Lost).
var errTunnelLost = errors.New("the port-forward closed before the admin API answered")

// HTTPAdmin is an admin API reached over HTTP: through a port-forward, or --admin-url.
type HTTPAdmin struct {
	Base   string // http://127.0.0.1:PORT
	Caps   Caps
	Client *http.Client
	// Lost, when set, ends every read once the tunnel under Base has ended (Tunnel.Lost).
	Lost context.Context
}

// Get fetches base+path, enforcing the caps.
func (a *HTTPAdmin) Get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Caps.Timeout)
	defer cancel()
	if a.Lost != nil {
		defer context.AfterFunc(a.Lost, cancel)()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(a.Base, "/")+path, nil)
	path = shortPath(path) // errors name the read, not its filters
	if err != nil {
		return nil, err
	}
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the whole URL; the admin API's is named once, by the caller
		}
		if lost := a.lost(); lost != nil {
			return nil, fmt.Errorf("GET %s: %w", path, lost)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: %w within the %s time cap (raise --admin-timeout)", path, errNoAnswer, a.Caps.Timeout)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("GET %s: admin port refused the connection: %w", path, err)
		}
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > a.Caps.MaxBytes { // refused unread: a 2 GiB body costs nothing
		return nil, fmt.Errorf("GET %s: response of %d bytes, larger than %d: %w (raise --max-bytes)", path, resp.ContentLength, a.Caps.MaxBytes, ErrCapExceeded)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, a.Caps.MaxBytes+1))
	if err != nil {
		if lost := a.lost(); lost != nil {
			return nil, fmt.Errorf("GET %s: response cut: %w", path, lost)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: response %w within the %s time cap (raise --admin-timeout)", path, errIncomplete, a.Caps.Timeout)
		}
		return nil, fmt.Errorf("GET %s: truncated response: %w", path, err)
	}
	if int64(len(body)) > a.Caps.MaxBytes {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes: %w (raise --max-bytes)", path, a.Caps.MaxBytes, ErrCapExceeded)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: admin API answered %s: %s", path, resp.Status, firstLine(body))
	}
	return body, nil
}

// lost tells why the tunnel ended, or nil while it is open.
func (a *HTTPAdmin) lost() error {
	if a.Lost == nil || a.Lost.Err() == nil {
		return nil
	}
	return fmt.Errorf("%w (%v)", errTunnelLost, context.Cause(a.Lost))
}

// shortPath names an admin read by its path and, for config dumps, the resource it asks for:
// "/config_dump?resource=dynamic_listeners", not the masks and regexes that follow.
func shortPath(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	if r := u.Query().Get("resource"); r != "" {
		return u.Path + "?resource=" + r
	}
	return u.Path
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
