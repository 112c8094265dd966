package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openclaw-run/openclaw-run/gateway"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/mcpserver"
)

// mcpHandler serves the MCP server over streamable HTTP, one MCP session
// per client connection, behind the gateway's origin and token checks.
func mcpHandler(srv *gateway.Server, m *mcp.Server) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return m },
		&mcp.StreamableHTTPOptions{SessionTimeout: time.Hour})
	return srv.Guard("/mcp", h)
}

// withMCP adds the /mcp endpoint to the gateway's routes.
func withMCP(srv *gateway.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpHandler(srv, mcpserver.New(srv, mcpserver.Options{Version: stamp().Version, Process: true})))
	mux.Handle("/", srv.Handler())
	return mux
}

// cmdMCP is "openclaw-run mcp": the jailed tools for an agent that starts
// this as its MCP server over stdio (no token: the agent owns the
// process), or over streamable HTTP with --http (token and origins as the
// gateway's). Sessions live as long as the process: one per connection.
func cmdMCP(args []string, stdout, stderr io.Writer) int {
	fs := flags("mcp", "[--http ADDR] [--workspace DIR] [--profile P] [--config F] [--log-level L]", stderr)
	httpAddr := fs.String("http", "", "serve streamable HTTP at this address (path /mcp) instead of stdio")
	ws := fs.String("workspace", "", "one workspace for every call (default: a new one per MCP session below sandbox.workspace)")
	profile := fs.String("profile", "", "profile of every call (default: tools.profile)")
	cfgFile := fs.String("config", "", "config file")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (logs go to stderr or logging.file, never stdout)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Fail("unexpected argument %q", fs.Arg(0))
	}
	known, cfg, err := loadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *profile != "" && known[*profile] == nil {
		fmt.Fprintf(stderr, "mcp: unknown profile %q\n", *profile)
		return 2
	}
	if *profile != "" {
		// The operator's choice on the command line: the profile the
		// gateway's own token (and clients without a list) may use.
		cfg.Tools.Profile = *profile
	}
	if *ws != "" {
		if *ws, err = filepath.Abs(*ws); err == nil {
			_, err = os.Stat(*ws)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mcp: --workspace: %v\n", err)
			return 2
		}
	}
	alog, err := setup.OpenAudit("", cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger, closer, err := newLogger(cfg.Logging, *logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer closer.Close()
	// Over stdio nobody else can reach the server: a random token that no
	// one holds keeps the HTTP side of the gateway type closed.
	tok := randomToken()
	var clients []*gateway.Client
	if *httpAddr != "" {
		if tok, err = token(cfg, true); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if clients, err = gateway.ResolveClients(cfg, setup.Secrets(cfg).Get); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	srv, err := newServer(gateway.Options{Config: cfg, Profiles: known, Token: tok, Clients: clients, Store: gateway.NewMemoryStore(),
		Logger: logger, Workspace: *ws}, alog)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer srv.Shutdown()
	m := mcpserver.New(srv, mcpserver.Options{Version: stamp().Version, Profile: *profile, Process: true})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *httpAddr == "" {
		logger.Info("mcp: serving over stdio")
		if err := m.Run(ctx, &mcp.StdioTransport{}); err != nil && ctx.Err() == nil {
			logger.Error("mcp", "err", err)
			return 1
		}
		return 0
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpHandler(srv, m))
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "openclaw-run mcp: streamable HTTP at http://%s/mcp (Authorization: Bearer token)\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
