// The status page on AWS: its build (web/dist) in a private S3 bucket behind CloudFront, and the API
// behind the same distribution under /v1/*. One origin for page and API is what makes the session
// cookie work as designed (SameSite=Strict, Path=/v1, no CORS at all): the page's fetches are
// same-origin, and the cookie never leaves for another site. docs/decisions.md has the alternatives.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DockerImage, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

const WEB_ROOT = join(import.meta.dirname, '..', 'web');

export interface StatusPageProps {
  /** The HTTP API's endpoint, `https://<id>.execute-api.<region>.amazonaws.com`. */
  readonly apiEndpoint: string;
}

export class StatusPage extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: StatusPageProps) {
    super(scope, id);
    // The page is rebuilt from the repository on every deploy: nothing in the bucket is worth keeping.
    this.bucket = new s3.Bucket(this, 'Assets', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'keywatch status page: same policy as the local server (local/http-server.ts PAGE_HEADERS)',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy:
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });

    const apiDomain = Fn.select(2, Fn.split('/', props.apiEndpoint));
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'keywatch status page and API',
      defaultRootObject: 'index.html',
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        // The API, uncached, with every header (signatures, cookie, CSRF) but Host, which API
        // Gateway needs to be its own. Signed paths stay as sent: the stage is `$default`.
        '/v1/*': {
          origin: new origins.HttpOrigin(apiDomain, {
            protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
          }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
    });

    // Built at synth by Vite (local bundling); `npx cdk synth` in tests skips bundling altogether.
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      // No invalidation (CDK would grant cloudfront:CreateInvalidation on every distribution): the
      // files are revalidated instead, so CloudFront serves a new deploy within its 1 s minimum TTL.
      cacheControl: [s3deploy.CacheControl.noCache()],
      sources: [
        s3deploy.Source.asset(WEB_ROOT, {
          bundling: {
            image: DockerImage.fromRegistry('node:24-slim'),
            local: {
              tryBundle(outputDir: string) {
                execFileSync(
                  'npx',
                  ['vite', 'build', '--config', join(WEB_ROOT, 'vite.config.ts'), '--outDir', outputDir],
                  {
                    stdio: 'inherit',
                  },
                );
                return true;
              },
            },
          },
        }),
      ],
    });

    // The copying function is CDK's shared singleton provider; its findings are acknowledged on it.
    const provider = Stack.of(this).node.tryFindChild(deployment.handlerRole.node.scope?.node.id ?? '');
    for (const [rule, reason] of Object.entries({
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        'CDK-managed BucketDeployment provider: runs only during deployments to copy the page into its bucket.',
      'AwsSolutions-IAM5[Action::s3:GetObject*]':
        "CDK's BucketDeployment grants read on the staging asset and write on the page bucket only.",
      'AwsSolutions-IAM5[Action::s3:GetBucket*]':
        "CDK's BucketDeployment grants read on the staging asset and write on the page bucket only.",
      'AwsSolutions-IAM5[Action::s3:List*]':
        "CDK's BucketDeployment grants read on the staging asset and write on the page bucket only.",
      'AwsSolutions-IAM5[Action::s3:Abort*]':
        "CDK's BucketDeployment provider may write and delete objects of the page bucket only, to replace the page.",
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]':
        "CDK's BucketDeployment provider may write and delete objects of the page bucket only, to replace the page.",
      'AwsSolutions-IAM5[Resource::<StatusPageAssets6C82EB71.Arn>/*]':
        'The BucketDeployment provider writes the objects of the page bucket only, nothing else in the account.',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]':
        'The BucketDeployment provider reads the staged page asset from the CDK bootstrap bucket, nothing else.',
      'AwsSolutions-L1':
        "CDK's BucketDeployment provider picks its own runtime; it runs only during deployments, never on a request.",
    })) {
      if (provider !== undefined) Validations.of(provider).acknowledge({ id: rule, reason });
    }

    for (const [rule, reason] of Object.entries({
      'AwsSolutions-S1':
        'The bucket holds only the public build of the status page, rebuilt on every deploy; CloudFront is the only reader (origin access control) and its requests are what matter.',
      'AwsSolutions-CFR1':
        'MSP technicians sign in from wherever they work; the API authenticates every read.',
      'AwsSolutions-CFR2':
        'No WAF: the page is static and every API request is authenticated (HMAC or session cookie) and throttled at the API stage.',
      'AwsSolutions-CFR3':
        'API requests are logged by API Gateway access logs behind this distribution; static file requests carry no data worth logging.',
      'AwsSolutions-CFR4':
        'The default CloudFront certificate: viewers get TLS 1.2 or later only when a custom domain and certificate are configured (docs/deploy.md).',
    })) {
      Validations.of(this).acknowledge({ id: rule, reason });
    }
  }
}
