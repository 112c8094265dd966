package gateway

import (
	"bytes"
	"errors"
	"net/http"
)

func asHTTP(err error, target **httpError) bool { return errors.As(err, target) }

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
