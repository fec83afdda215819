# syntax=docker/dockerfile:1
# Build: docker build -t clickback .
# Run:   docker run -p 8080:8080 -v clickback-data:/data clickback

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/clickback . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clickback /usr/local/bin/clickback
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV CLICKBACK_ADDR=:8080 \
    CLICKBACK_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/clickback"]
CMD ["serve"]
