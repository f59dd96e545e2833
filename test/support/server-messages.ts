// protocol/ is zod/mini, which loads no locale; the server sets English once (common/config.ts). Tests that
// import protocol/ directly hold its schemas to the messages the API answers with.
import "../../common/config.ts";
