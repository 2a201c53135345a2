import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, ROUTES, type FunctionName } from '../../functions/manifest';
import { getAtt, lambdaId, ofType, synth, type Synthesized } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

/** Manifest function name behind a route key (`ANY /path`), following route → integration → Lambda ARN. */
function functionOfRoute(routeKey: string): FunctionName {
  const routes = ofType(s.resources, 'AWS::ApiGatewayV2::Route').filter(([, r]) => r.Properties.RouteKey === routeKey);
  expect(routes, routeKey).toHaveLength(1);
  const target = routes[0][1].Properties.Target['Fn::Join'][1] as [string, { Ref: string }];
  expect(target[0]).toBe('integrations/');
  const integration = s.resources[target[1].Ref].Properties;
  const names = (Object.keys(FUNCTIONS) as FunctionName[]).filter((n) =>
    JSON.stringify(integration.IntegrationUri) === JSON.stringify(getAtt(lambdaId(s.resources, n), 'Arn')),
  );
  expect(names, `integration of ${routeKey}`).toHaveLength(1);
  return names[0];
}

describe('http api', () => {
  it('is one HTTP API', () => {
    const apis = ofType(s.resources, 'AWS::ApiGatewayV2::Api');
    expect(apis).toHaveLength(1);
    expect(apis[0][1].Properties.ProtocolType).toBe('HTTP');
  });

  it.each(ROUTES.map((r) => [r.path, r.fn] as const))('registers ANY %s and its {proxy+} subtree → %s', (path, fn) => {
    expect(functionOfRoute(`ANY ${path}`)).toBe(fn);
    expect(functionOfRoute(`ANY ${path}/{proxy+}`)).toBe(fn);
  });

  it('sends everything else ($default) to meta', () => {
    expect(functionOfRoute('$default')).toBe('meta');
  });

  it('has no routes besides the manifest ones and $default', () => {
    const keys = ofType(s.resources, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey).sort();
    const expected = ['$default', ...ROUTES.flatMap((r) => [`ANY ${r.path}`, `ANY ${r.path}/{proxy+}`])].sort();
    expect(keys).toEqual(expected);
  });

  it('uses one proxy integration per function, payload format 2.0', () => {
    const integrations = ofType(s.resources, 'AWS::ApiGatewayV2::Integration');
    const targets = new Set([...ROUTES.map((r) => r.fn), 'meta']);
    expect(integrations).toHaveLength(targets.size);
    for (const [, i] of integrations) {
      expect(i.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    }
  });

  it('lets API Gateway invoke exactly the routed functions', () => {
    const targets = new Set<FunctionName>([...ROUTES.map((r) => r.fn), 'meta']);
    const invoked = new Set(
      ofType(s.resources, 'AWS::Lambda::Permission')
        .filter(([, p]) => p.Properties.Principal === 'apigateway.amazonaws.com')
        .map(([, p]) => (Object.keys(FUNCTIONS) as FunctionName[]).find((n) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify(getAtt(lambdaId(s.resources, n), 'Arn')))),
    );
    expect([...invoked].sort()).toEqual([...targets].sort());
  });

  it('auto-deploys a throttled $default stage with JSON access logs that omit query strings', () => {
    const [[, stage]] = ofType(s.resources, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
    expect(JSON.stringify(format)).not.toMatch(/querystring|header/i);
    const groupId = stage.Properties.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
    expect(s.resources[groupId].Type).toBe('AWS::Logs::LogGroup');
    expect(s.resources[groupId].Properties.RetentionInDays).toBe(30);
  });

  it('answers CORS preflight for a browser UI sending the token header', () => {
    const [[, api]] = ofType(s.resources, 'AWS::ApiGatewayV2::Api');
    const cors = api.Properties.CorsConfiguration;
    expect(cors.AllowOrigins).toEqual(['*']);
    expect(cors.AllowHeaders).toEqual(expect.arrayContaining(['Authorization', 'Content-Type']));
    expect(cors.AllowMethods).toEqual(['*']);
    expect(cors.AllowCredentials).toBe(false);
  });

  it('restricts CORS to the configured origins and applies throttling context', () => {
    const t = synth({ corsOrigins: 'https://label.example.com,https://ls.example.com', apiRateLimit: 50, apiBurstLimit: 80 });
    const [[, api]] = ofType(t.resources, 'AWS::ApiGatewayV2::Api');
    expect(api.Properties.CorsConfiguration.AllowOrigins).toEqual(['https://label.example.com', 'https://ls.example.com']);
    const [[, stage]] = ofType(t.resources, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 });
  });

  it('outputs the API URL', () => {
    const out = s.template.findOutputs('ApiUrl');
    expect(JSON.stringify(out.ApiUrl.Value)).toContain('execute-api');
  });
});
