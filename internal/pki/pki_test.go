package pki

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMutualTLS(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	sc, sk, err := Ensure(dir, "nm", []string{"node1"})
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, _ := Ensure(dir, "agent", nil)
	foreignCert, foreignKey, _ := Ensure(other, "intruder", nil)
	srvCfg, err := ServerConfig(dir, sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = srvCfg
	srv.StartTLS()
	defer srv.Close()
	get := func(cfg *tls.Config) error {
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	good, _ := ClientConfig(dir, cc, ck)
	if err := get(good); err != nil {
		t.Fatalf("a client with a cluster certificate was refused: %v", err)
	}
	bad, _ := ClientConfig(dir, foreignCert, foreignKey)
	if err := get(bad); err == nil {
		t.Fatalf("a client with a foreign certificate was accepted")
	}
	none := good.Clone()
	none.Certificates = nil
	if err := get(none); err == nil {
		t.Fatalf("a client without a certificate was accepted")
	}
}
