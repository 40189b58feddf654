// An application's writes through Sentinel with go-redis: TLS, a client certificate, an ACL user.
//
// Configuration from the environment (docs/clients.md has the table); passwords are read from the
// files that REDIS_PASSWORD_FILE and REDIS_SENTINEL_PASSWORD_FILE name. The argument is how long to
// write, in seconds (default 60); SIGTERM ends the run early. One line per write:
//
//	2026-01-01T12:00:00.000Z ok 42 10.0.0.12:6379     (the counter, the server that took the write)
//	2026-01-01T12:00:00.100Z error ...
//
// Exits 0 when the last write succeeded.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func env(name, fallback string) string {
	value := os.Getenv(name)
	if value == "" {
		value = fallback
	}
	if value == "" {
		fail(name + " is not set (see docs/clients.md)")
	}
	return value
}

// secret reads a password from the file the variable names: never on a command line.
func secret(name string) string {
	data, err := os.ReadFile(env(name, ""))
	if err != nil {
		fail(err.Error())
	}
	return strings.TrimSpace(string(data))
}

// tlsConfig: the CA that signed the servers' and sentinels' certificates, and the application's
// own certificate. No ServerName: each connection checks that the certificate names the address
// it dials (the kit's certificates carry each host's name and IP address), sentinels and servers
// alike, as go-redis uses this one configuration for both.
func tlsConfig() *tls.Config {
	pem, err := os.ReadFile(env("REDIS_TLS_CA", ""))
	if err != nil {
		fail(err.Error())
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("no certificate in REDIS_TLS_CA")
	}
	cert, err := tls.LoadX509KeyPair(env("REDIS_TLS_CERT", ""), env("REDIS_TLS_KEY", ""))
	if err != nil {
		fail(err.Error())
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// write: INCR, and the server that took it (CLIENT INFO's laddr, over the same connection).
func write(ctx context.Context, rdb *redis.Client, key string) (int64, string, error) {
	var incr *redis.IntCmd
	var info *redis.Cmd
	_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		incr = pipe.Incr(ctx, key)
		info = pipe.Do(ctx, "client", "info")
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	text, err := info.Text()
	if err != nil {
		return 0, "", err
	}
	for _, field := range strings.Fields(text) {
		if strings.HasPrefix(field, "laddr=") {
			return incr.Val(), strings.TrimPrefix(field, "laddr="), nil
		}
	}
	return incr.Val(), "", nil
}

func main() {
	seconds := 60.0
	if len(os.Args) > 1 {
		var err error
		if seconds, err = strconv.ParseFloat(os.Args[1], 64); err != nil {
			fail(err.Error())
		}
	}
	key := env("REDIS_COUNTER_KEY", "app:clients:go")
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    env("REDIS_MASTER_NAME", "redis-main"),
		SentinelAddrs: strings.Split(env("REDIS_SENTINELS", ""), ","),
		// The sentinels have ACL users of their own (redis_sentinel_client_users).
		SentinelUsername: env("REDIS_SENTINEL_USERNAME", ""),
		SentinelPassword: secret("REDIS_SENTINEL_PASSWORD_FILE"),
		Username:         env("REDIS_USERNAME", ""),
		Password:         secret("REDIS_PASSWORD_FILE"),
		TLSConfig:        tlsConfig(),
		DialTimeout:      time.Second,
		ReadTimeout:      time.Second,
		WriteTimeout:     time.Second,
		// CLIENT SETINFO is Redis 7.2+, and the kit's Sentinel users may not run it.
		DisableIdentity: true,
	})

	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	ctx := context.Background()
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	ok, failed, last := 0, 0, "error"
	for time.Now().Before(deadline) && stop.Err() == nil {
		count, server, err := write(ctx, rdb, key)
		if err != nil {
			failed, last = failed+1, "error"
			fmt.Printf("%s error %v\n", now(), err)
		} else {
			ok, last = ok+1, "ok"
			fmt.Printf("%s ok %d %s\n", now(), count, server)
		}
		select {
		case <-stop.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Printf("%s done ok=%d errors=%d last=%s\n", now(), ok, failed, last)
	_ = rdb.Close()
	if last != "ok" {
		os.Exit(1)
	}
}

func now() string {
	return time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	os.Exit(2)
}
