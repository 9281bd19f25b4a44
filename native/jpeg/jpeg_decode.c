// Scaled JPEG decoding with the system's libjpeg-turbo, for Linesight's preprocessing.
//
// Why not sharp alone: the same DCT-scaled decode costs less outside libvips (its bundled mozjpeg,
// its pipeline and thread hand-offs), with the same pixels out; src/inference/jpeg-decoder.ts
// has the figures. The caller picks the scale sharp would have used, and sharp resizes what is
// decoded here, as before.
//
// Two calls:
//   header(bytes) -> { width, height, components, colorSpace, precision, icc }   (sync, cheap)
//   decode(bytes, shrink, callback(err, { data, width, height, channels }))     (libuv pool)
// Every libjpeg warning is an error, as sharp's failOn: 'warning' made it: a frame with corrupt
// or missing data is refused, not classified half grey.
#include <node_api.h>
#include <setjmp.h>
#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "LS_JPEG_NAPI", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} error_mgr;

static void on_error(j_common_ptr cinfo) {
  error_mgr *err = (error_mgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  // level -1 is a warning (corrupt data, premature end); trace messages (>= 0) are ignored.
  if (level < 0) on_error(cinfo);
}

// A progressive JPEG may hold any number of scans, each a pass over the whole image: a hostile
// frame of a few kilobytes with thousands of them keeps a thread busy for seconds (libjpeg-turbo
// 3 added a scan limit for this; bookworm has 2.1). Encoders write about ten (libjpeg's and
// jpegtran's default progression: 10; mozjpeg's searched ones about as many).
#define MAX_SCANS 64

static void check_scans(j_common_ptr cinfo) {
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->is_decompressor && d->input_scan_number > MAX_SCANS) {
    error_mgr *err = (error_mgr *)cinfo->err;
    snprintf(err->message, sizeof err->message, "progressive JPEG with more than %d scans", MAX_SCANS);
    longjmp(err->jump, 1);
  }
}

static void init_errors(struct jpeg_decompress_struct *cinfo, error_mgr *err) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error;
  err->pub.emit_message = on_message;
  err->message[0] = '\0';
}

static const char *color_space_name(J_COLOR_SPACE cs) {
  switch (cs) {
    case JCS_GRAYSCALE: return "gray";
    case JCS_YCbCr: return "ycc";
    case JCS_RGB: return "rgb";
    case JCS_CMYK: return "cmyk";
    case JCS_YCCK: return "ycck";
    default: return "unknown";
  }
}

static int has_icc(struct jpeg_decompress_struct *cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && memcmp(m->data, "ICC_PROFILE", 12) == 0) return 1;
  }
  return 0;
}

static napi_status bytes_of(napi_env env, napi_value value, const unsigned char **data, size_t *length) {
  bool is_typed = false;
  napi_status s = napi_is_typedarray(env, value, &is_typed);
  if (s != napi_ok) return s;
  if (!is_typed) return napi_invalid_arg;
  napi_typedarray_type type;
  void *ptr = NULL;
  napi_value buffer;
  size_t offset = 0;
  s = napi_get_typedarray_info(env, value, &type, length, &ptr, &buffer, &offset);
  if (s != napi_ok) return s;
  if (type != napi_uint8_array) return napi_invalid_arg;
  *data = ptr;
  return napi_ok;
}

static napi_value set_int(napi_env env, napi_value obj, const char *key, int v) {
  napi_value n;
  if (napi_create_int32(env, v, &n) != napi_ok || napi_set_named_property(env, obj, key, n) != napi_ok) return NULL;
  return obj;
}

// header(bytes): the frame's size and colour space, from its markers alone.
static napi_value header(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const unsigned char *data;
  size_t length;
  if (argc < 1 || bytes_of(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "LS_JPEG_ARG", "header(bytes): bytes must be a Uint8Array");
    return NULL;
  }
  struct jpeg_decompress_struct cinfo;
  error_mgr err;
  init_errors(&cinfo, &err);
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    napi_throw_error(env, "LS_JPEG_HEADER", err.message);
    return NULL;
  }
  jpeg_mem_src(&cinfo, data, (unsigned long)length);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  napi_value out, cs, icc;
  int ok = napi_create_object(env, &out) == napi_ok &&
           set_int(env, out, "width", (int)cinfo.image_width) &&
           set_int(env, out, "height", (int)cinfo.image_height) &&
           set_int(env, out, "components", cinfo.num_components) &&
           set_int(env, out, "precision", cinfo.data_precision) &&
           napi_create_string_utf8(env, color_space_name(cinfo.jpeg_color_space), NAPI_AUTO_LENGTH, &cs) == napi_ok &&
           napi_set_named_property(env, out, "colorSpace", cs) == napi_ok &&
           napi_get_boolean(env, has_icc(&cinfo), &icc) == napi_ok &&
           napi_set_named_property(env, out, "icc", icc) == napi_ok;
  jpeg_destroy_decompress(&cinfo);
  if (!ok) {
    napi_throw_error(env, "LS_JPEG_NAPI", "could not build the header object");
    return NULL;
  }
  return out;
}

typedef struct {
  napi_async_work work;
  napi_ref input_ref;
  napi_ref callback_ref;
  const unsigned char *input;
  size_t input_length;
  int shrink;
  unsigned char *pixels;
  int width, height, channels;
  char message[JMSG_LENGTH_MAX];
} decode_job;

static void decode_execute(napi_env env, void *arg) {
  (void)env;
  decode_job *job = arg;
  struct jpeg_decompress_struct cinfo;
  error_mgr err;
  init_errors(&cinfo, &err);
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    snprintf(job->message, sizeof job->message, "%s", err.message[0] ? err.message : "unreadable JPEG");
    free(job->pixels);
    job->pixels = NULL;
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  struct jpeg_progress_mgr progress = {.progress_monitor = check_scans};
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, job->input, (unsigned long)job->input_length);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    snprintf(job->message, sizeof job->message, "CMYK JPEGs are not decoded here");
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = (unsigned int)job->shrink;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  job->width = (int)cinfo.output_width;
  job->height = (int)cinfo.output_height;
  job->channels = cinfo.output_components;
  size_t stride = (size_t)job->width * (size_t)job->channels;
  job->pixels = malloc(stride * (size_t)job->height);
  if (!job->pixels) {
    snprintf(job->message, sizeof job->message, "out of memory for a %dx%d image", job->width, job->height);
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = job->pixels + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
}

static void free_pixels(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void decode_complete(napi_env env, napi_status status, void *arg) {
  decode_job *job = arg;
  napi_value callback, global, argv[2], undefined;
  napi_get_reference_value(env, job->callback_ref, &callback);
  napi_get_global(env, &global);
  napi_get_undefined(env, &undefined);
  if (status != napi_ok || !job->pixels) {
    napi_value msg, code;
    napi_create_string_utf8(env, status != napi_ok ? "decode was cancelled" : job->message, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, "LS_JPEG_DECODE", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &argv[0]);
    argv[1] = undefined;
  } else {
    napi_value out, data;
    size_t size = (size_t)job->width * (size_t)job->height * (size_t)job->channels;
    if (napi_create_external_buffer(env, size, job->pixels, free_pixels, NULL, &data) != napi_ok) {
      // Runtimes without external buffers: copy once.
      void *copy;
      napi_create_buffer_copy(env, size, job->pixels, &copy, &data);
      free(job->pixels);
    }
    job->pixels = NULL;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "data", data);
    set_int(env, out, "width", job->width);
    set_int(env, out, "height", job->height);
    set_int(env, out, "channels", job->channels);
    argv[0] = undefined;
    argv[1] = out;
  }
  napi_call_function(env, global, callback, 2, argv, NULL);
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  free(job->pixels);
  free(job);
}

// decode(bytes, shrink, callback): shrink is 1, 2, 4 or 8.
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const unsigned char *data;
  size_t length;
  int32_t shrink = 0;
  napi_valuetype cb_type = napi_undefined;
  if (argc < 3 || bytes_of(env, argv[0], &data, &length) != napi_ok || napi_get_value_int32(env, argv[1], &shrink) != napi_ok ||
      napi_typeof(env, argv[2], &cb_type) != napi_ok || cb_type != napi_function || (shrink != 1 && shrink != 2 && shrink != 4 && shrink != 8)) {
    napi_throw_type_error(env, "LS_JPEG_ARG", "decode(bytes: Uint8Array, shrink: 1 | 2 | 4 | 8, callback)");
    return NULL;
  }
  decode_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "LS_JPEG_NAPI", "out of memory");
    return NULL;
  }
  job->input = data;
  job->input_length = length;
  job->shrink = shrink;
  napi_value name;
  if (napi_create_reference(env, argv[0], 1, &job->input_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "linesight-jpeg-decode", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, decode_execute, decode_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, "LS_JPEG_NAPI", "could not queue the decode");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"header", NULL, header, NULL, NULL, NULL, napi_default, NULL},
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
