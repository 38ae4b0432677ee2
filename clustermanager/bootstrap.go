package clustermanager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

// clientConfigMarker starts every Client.cfg the CM writes, so that it
// never overwrites one a person wrote.
const clientConfigMarker = "# written by tashi-cm --client-config"

// bootstrapAdmin makes sure an admin exists and that its token is in
// <stateDir>/admin.token (mode 0600). If the file was lost, the admin's
// token is replaced and written again.
func bootstrapAdmin(ctx context.Context, st *store.Store, o Options, log *slog.Logger) error {
	path := filepath.Join(o.StateDir, "admin.token")
	tok, err := st.EnsureAdmin(ctx, o.AdminUser)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if _, statErr := os.Stat(path); tok == "" && errors.Is(statErr, os.ErrNotExist) {
		if tok, err = st.ResetToken(ctx, o.AdminUser); err != nil {
			log.Warn("admin token file missing and admin user not found; use an existing admin token", "file", path)
			return nil
		}
		log.Warn("admin token file was missing: issued a new token", "user", o.AdminUser, "file", path)
	}
	if tok != "" {
		if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return fmt.Errorf("write admin token: %w", err)
		}
		log.Info("admin token written", "user", o.AdminUser, "file", path)
	}
	if err := bootstrapDaemons(ctx, st, o, log); err != nil {
		return err
	}
	return writeClientConfig(o, path)
}

// bootstrapDaemons makes the accounts node managers and agents use on a
// one-machine cluster ([ClusterManager] bootstrapUsers, name:role,...),
// each with its token in <stateDir>/<name>.token, written only when the
// file is missing.
func bootstrapDaemons(ctx context.Context, st *store.Store, o Options, log *slog.Logger) error {
	for _, item := range strings.Split(o.BootstrapUsers, ",") {
		name, role, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			if item != "" {
				return fmt.Errorf("bootstrapUsers: %q is not name:role", item)
			}
			continue
		}
		path := filepath.Join(o.StateDir, name+".token")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		tok, err := st.EnsureUser(ctx, name, api.Role(role))
		if err != nil {
			return fmt.Errorf("bootstrap user %s: %w", name, err)
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		log.Info("daemon token written", "user", name, "role", role, "file", path)
	}
	return nil
}

// writeClientConfig writes a Client.cfg pointing the CLI at this CM with
// the admin's token file, unless a hand-written file is already there.
func writeClientConfig(o Options, tokenFile string) error {
	if o.ClientConfig == "" {
		return nil
	}
	old, err := os.ReadFile(o.ClientConfig)
	if err == nil && !bytes.HasPrefix(old, []byte(clientConfigMarker)) {
		return nil
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return fmt.Errorf("client config: listen address %q: %w", o.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	abs, _ := filepath.Abs(tokenFile)
	text := fmt.Sprintf("%s (make up); delete this line to keep your own edits\n[Client]\nclusterManagerHost = %s\nclusterManagerPort = %s\ntokenFile = %s\n",
		clientConfigMarker, host, port, abs)
	if err := os.MkdirAll(filepath.Dir(o.ClientConfig), 0o700); err != nil {
		return err
	}
	return os.WriteFile(o.ClientConfig, []byte(text), 0o600)
}

func isDuplicateDB(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P04"
}
