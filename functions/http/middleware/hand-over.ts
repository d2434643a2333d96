// Last in the chain: hands what the middlewares established (principal, route, body) to the route
// handler through the Lambda context, the one place middy lets a handler receive it.
import { type ApiMiddleware, required } from '../request.ts';

export function handOver(): ApiMiddleware {
  return {
    name: 'handOver',
    before: (request) => {
      const { internal } = request;
      request.context.keywatch = {
        principal: required(internal, 'principal'),
        route: required(internal, 'route'),
        params: required(internal, 'params'),
        body: internal.body,
      };
    },
  };
}
