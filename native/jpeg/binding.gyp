{
  "targets": [
    {
      "target_name": "jpeg_decode",
      "sources": ["jpeg_decode.c"],
      "libraries": ["-ljpeg"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
