{
  "targets": [
    {
      "target_name": "rawsock",
      "sources": ["native/rawsock.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
