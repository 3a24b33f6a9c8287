package plugin

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// unreachableError turns what stops a command before its first answer from the API server into
// one line that names the server or the credential, and the way out: client-go's raw `Get
// "https://HOST/api?timeout=32s": dial tcp HOST: connect: connection refused`, or crypto/tls on
// a kubeconfig's client key. Other errors are returned as they are.
func unreachableError(err error) error {
	var ue *url.Error
	if err != nil && strings.HasPrefix(err.Error(), "tls: ") {
		// crypto/tls on the kubeconfig's client certificate and key, before any request.
		return fmt.Errorf("the kubeconfig's client certificate or key cannot be used (%v): check --context and --kubeconfig", err)
	}
	if !errors.As(err, &ue) {
		return err
	}
	why := unreachableCause(ue.Err)
	if why == "" {
		return err
	}
	server := "the Kubernetes API server"
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		server += " at " + (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	}
	return fmt.Errorf("cannot reach %s (%s): check --context and --kubeconfig, or that the cluster is up", server, why)
}

// unreachableCause says in a few words why a connection to the API server failed, or "" when
// err is not a connection failure.
func unreachableCause(err error) string {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dnsErr):
		return "no such host " + dnsErr.Name
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr):
		return "its certificate is not trusted"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	}
	return ""
}
