# syntax=docker/dockerfile:1
# Build: a static binary from the module, with the module cache as a layer.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/laurel ./cmd/laurel

# Run: distroless, non-root, nothing but the binary and CA certificates.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/laurel /usr/local/bin/laurel
USER nonroot:nonroot
EXPOSE 8080
ENV LAUREL_LISTEN=:8080
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/laurel"]
CMD ["serve"]
