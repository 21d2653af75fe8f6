// Prints, as NDJSON fixture lines, the errors that golang-jwt really returns for each case of
// tests/libs/README.md, as users log them (err.Error()), with MapClaims and RegisteredClaims.
//
// Built against Debian's golang-github-golang-jwt-jwt-dev (v4.4.3) in GOPATH mode, without
// network: GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go. tests/library_errors.rs
// compares the output with tests/data/library_errors.jsonl.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt"
)

// A fixed "now" (jwt.TimeFunc), so that no text ("token is expired by 1h0m0s") depends on the
// day it was made.
const now = 1790000000

var (
	secret      = []byte("skew-exporter library fixtures, not a real secret, 64 bytes long.")
	otherSecret = []byte("another secret, so the signature does not verify, 64 bytes long.")
	iss         = "https://issuer.test"
	aud         = "api"
)

const library = "golang-jwt 4"

type line struct {
	Library  string  `json:"library"`
	Case     string  `json:"case"`
	Form     string  `json:"form"`
	Text     *string `json:"text"`
	Expected *string `json:"expected"`
}

var expected = map[string]string{
	"expired":         "expired",
	"nbf_future":      "not_yet_valid",
	"iat_future":      "issued_in_future",
	"bad_signature":   "invalid_signature",
	"unknown_key":     "unknown_key",
	"wrong_issuer":    "invalid_issuer",
	"wrong_audience":  "invalid_audience",
	"missing_exp":     "missing_claim",
	"alg_not_allowed": "invalid_algorithm",
	"garbage":         "malformed",
}

var out = json.NewEncoder(os.Stdout)

func emit(kase, form string, err error) {
	l := line{Library: library, Case: kase, Form: "err.Error() " + form}
	if err == nil {
		l.Form = "accepted " + form
	} else {
		text := err.Error()
		want := expected[kase]
		l.Text, l.Expected = &text, &want
	}
	if e := out.Encode(l); e != nil {
		fmt.Fprintln(os.Stderr, "gen.go:", e)
		os.Exit(1)
	}
}

func claims(c jwt.MapClaims) jwt.MapClaims {
	m := jwt.MapClaims{"iss": iss, "aud": aud, "sub": "user", "iat": now - 60, "exp": now + 3600}
	for k, v := range c {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func sign(c jwt.MapClaims, key []byte, method jwt.SigningMethod, kid string) string {
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen.go: sign:", err)
		os.Exit(1)
	}
	return s
}

// The key function: the key set holds k1 only. Its error is what err.Error() returns for an
// unknown key, so this text is the caller's, not the library's.
func keyFunc(t *jwt.Token) (interface{}, error) {
	if kid, _ := t.Header["kid"].(string); kid == "k2" {
		return nil, errors.New("unknown key id")
	}
	return secret, nil
}

// verify parses as v4 users do: Parse checks the signature, the algorithm and exp/iat/nbf;
// issuer and audience are checked by hand (v4's Parse does not), answering with the library's
// own sentinel errors.
func verify(token string, claims jwt.Claims) error {
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}))
	if _, err := p.ParseWithClaims(token, claims, keyFunc); err != nil {
		return err
	}
	switch c := claims.(type) {
	case *jwt.MapClaims:
		if !c.VerifyIssuer(iss, true) {
			return jwt.ErrTokenInvalidIssuer
		}
		if !c.VerifyAudience(aud, true) {
			return jwt.ErrTokenInvalidAudience
		}
	case *jwt.RegisteredClaims:
		if !c.VerifyIssuer(iss, true) {
			return jwt.ErrTokenInvalidIssuer
		}
		if !c.VerifyAudience(aud, true) {
			return jwt.ErrTokenInvalidAudience
		}
	}
	return nil
}

func main() {
	jwt.TimeFunc = func() time.Time { return time.Unix(now, 0) }
	hs := jwt.SigningMethodHS256
	tokens := []struct{ kase, token string }{
		{"good", sign(claims(nil), secret, hs, "")},
		{"expired", sign(claims(jwt.MapClaims{"iat": now - 7200, "exp": now - 3600}), secret, hs, "")},
		{"nbf_future", sign(claims(jwt.MapClaims{"nbf": now + 3600, "exp": now + 7200}), secret, hs, "")},
		{"iat_future", sign(claims(jwt.MapClaims{"iat": now + 3600, "exp": now + 7200}), secret, hs, "")},
		{"bad_signature", sign(claims(nil), otherSecret, hs, "")},
		{"unknown_key", sign(claims(nil), secret, hs, "k2")},
		{"wrong_issuer", sign(claims(jwt.MapClaims{"iss": "https://someone-else.test"}), secret, hs, "")},
		{"wrong_audience", sign(claims(jwt.MapClaims{"aud": "not-api"}), secret, hs, "")},
		// v4 has no way to require exp: Valid() passes a token without one.
		{"missing_exp", sign(claims(jwt.MapClaims{"exp": nil}), secret, hs, "")},
		{"alg_not_allowed", sign(claims(nil), secret, jwt.SigningMethodHS512, "")},
		{"garbage", "this is not a token"},
	}
	for _, t := range tokens {
		emit(t.kase, "(MapClaims)", verify(t.token, &jwt.MapClaims{}))
		emit(t.kase, "(RegisteredClaims)", verify(t.token, &jwt.RegisteredClaims{}))
	}
}
